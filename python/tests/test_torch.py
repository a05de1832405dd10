"""twoway.torch: every module passes the spec's conformance suite in four dtypes (the engine of
`twoway conform`, in process), stays finite where batches are degenerate, and works under autocast and
torch.compile."""

import numpy as np
import pytest
import torch

import twoway
from twoway.testing import assert_conforms
from twoway.torch import AsymmetricLoss, BCELoss, FocalLoss, SoftmaxLoss, TwoWayLoss

# (the spec's loss, the module, parameter sets: the defaults and others).
LOSSES = [
    ("twoway", TwoWayLoss, [{}, {"tp": 2.0, "tn": 0.5, "way": "class", "mask": "official"}, {"way": "sample"}]),
    ("softmax", SoftmaxLoss, [{}, {"way": "class"}]),
    ("bce", BCELoss, [{}, {"reduction": "mean"}]),
    ("focal", FocalLoss, [{}, {"gamma": 1.0, "alpha": 0.25, "reduction": "sum"}]),
    ("asl", AsymmetricLoss, [{}, {"focus_grad": True, "gamma_pos": 1.0, "clip": 0.0}]),
]
CASES = [(name, cls, params) for name, cls, sets in LOSSES for params in sets]
DTYPES = ["f64", "f32", "f16", "bf16"]
TORCH = {"f64": torch.float64, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cls,params", CASES, ids=[f"{n}-{i}" for n, _, s in LOSSES for i in range(len(s))])
def test_conforms_to_the_spec(name, cls, params, dtype):
    report = assert_conforms(cls(**params), loss=name, dtype=dtype, **params)
    assert report.passed == len(report.cases) > 50 and report.allowed_divergence == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cls,params", CASES, ids=[f"{n}-{i}" for n, _, s in LOSSES for i in range(len(s))])
def test_degenerate_batches_give_the_spec_value_and_finite_gradients(name, cls, params, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)) * 3
    for y in (np.zeros((6, 5)), -np.ones((6, 5)), np.where(rng.random((6, 5)) < 0.5, -1.0, 0.0)):
        logits = torch.tensor(x, dtype=TORCH[dtype], requires_grad=True)
        value = cls(**params)(logits, torch.tensor(y, dtype=TORCH[dtype]))
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
        want, _ = twoway.reference.loss(name, logits.detach().double().numpy(), y, **params)
        rel = {"f64": 1e-12, "f32": 1e-5, "f16": 1e-2, "bf16": 1e-2}[dtype]
        assert float(value.detach()) == pytest.approx(want, rel=rel, abs=rel)


def test_under_autocast_the_loss_follows_the_float32_one():
    torch.manual_seed(0)
    model = torch.nn.Linear(16, 10)
    features = torch.randn(32, 16)
    targets = (torch.rand(32, 10) < 0.2).float()
    targets[0, :3] = -1
    criterion = TwoWayLoss()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(features)
        assert logits.dtype == torch.bfloat16
        loss = criterion(logits, targets)
    loss.backward()
    want = criterion(model(features).float(), targets)
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert float(loss.detach()) == pytest.approx(float(want.detach()), rel=0.05)


def test_torch_compile_gives_the_eager_value_and_gradient():
    torch.manual_seed(1)
    x = torch.randn(12, 7, requires_grad=True)
    y = torch.where(torch.rand(12, 7) < 0.3, 1.0, torch.where(torch.rand(12, 7) < 0.2, -1.0, 0.0))
    eager = TwoWayLoss()
    compiled = torch.compile(TwoWayLoss(), backend="eager", fullgraph=True)
    (ge,) = torch.autograd.grad(eager(x, y), x)
    value = compiled(x, y)
    (gc,) = torch.autograd.grad(value, x)
    assert float(value.detach()) == pytest.approx(float(eager(x, y).detach()), rel=1e-6)
    torch.testing.assert_close(gc, ge)


def test_constructor_and_input_errors_are_named():
    with pytest.raises(ValueError, match="tp"):
        TwoWayLoss(tp=0.0)
    with pytest.raises(ValueError, match="way"):
        TwoWayLoss(way="rows")
    with pytest.raises(ValueError, match="reduction"):
        BCELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        TwoWayLoss()(torch.zeros(3, 4), torch.zeros(4, 3))
