"""twoway.reference against the spec's vectors (closed forms stated in spec/vectors/*.yaml), and its
errors."""

import numpy as np
import pytest

import twoway
from twoway import reference


def test_every_loss_vector_of_the_spec():
    compared = 0
    for name, contents in twoway.spec.vectors().items():
        for v in contents.get("losses", []):
            value, grad = reference.loss(v["loss"], np.array(v["logits"]), np.array(v["targets"]), **v.get("params", {}))
            assert value == pytest.approx(v["value"], rel=1e-12, abs=1e-12), v["name"]
            np.testing.assert_allclose(grad, np.array(v["grad"]), rtol=1e-10, atol=1e-12, err_msg=v["name"])
            compared += 1
    assert compared >= 20


def test_the_two_way_loss_of_one_line_in_closed_form():
    # One sample, one positive (logit 2) and one negative (logit -1), way "sample": softplus(Tn*(-1/Tn)
    # + Tp*(-2/Tp)) = log(1 + e^-3).
    x = np.array([[2.0, -1.0]])
    y = np.array([[1.0, 0.0]])
    v = reference.value("twoway", x, y, way="sample", tp=4.0, tn=1.0)
    assert v == pytest.approx(np.log1p(np.exp(-3.0)), rel=1e-14)


def test_errors_name_the_parameter_or_entry():
    x, y = np.zeros((2, 2)), np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"bce takes no parameter `tp`; its parameters: reduction"):
        reference.loss("bce", x, y, tp=4.0)
    with pytest.raises(ValueError, match=r"temperature Tp must be finite and > 0"):
        reference.loss("twoway", x, y, tp=0.0)
    with pytest.raises(ValueError, match=r"unknown loss"):
        reference.loss("hinge", x, y)
    with pytest.raises(ValueError, match=r"targets\[0, 1\] = 2 is outside"):
        reference.loss("twoway", x, np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"logits\[1, 0\] = NaN is not finite"):
        reference.loss("twoway", np.array([[0.0, 0.0], [np.nan, 0.0]]), y)
    with pytest.raises(ValueError, match=r"logits has shape \(2, 2\) but targets has shape \(1, 2\)"):
        reference.loss("twoway", x, y[:1])
