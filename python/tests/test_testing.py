"""twoway.testing: the conformance engine in pytest fails on seeded defects and names the case, accepts
named divergences and nothing else, and runs single cases."""

import sys
from pathlib import Path

import numpy as np
import pytest

import twoway
from twoway.testing import ConformanceError, assert_conforms, conform, conformance_cases
from twoway.torch import SoftmaxLoss, TwoWayLoss

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "reproduce/tests/conform"))
from bench_peers import release_two_way  # noqa: E402  the project's restatement of the release's op sequence
# The seeded defects `twoway conform`'s own tests use: the same defects through both front ends.
from losses_torch import gradient_off_by_one_percent, swapped_temperatures, unknowns_as_negatives  # noqa: E402


def test_swapped_temperatures_fail_and_name_the_cases():
    with pytest.raises(ConformanceError) as e:
        assert_conforms(swapped_temperatures, loss="twoway", dtype="f64", tp=4.0, tn=1.0)
    text = str(e.value)
    assert "swapped_temperatures does not conform to twoway (way both, Tp 4, Tn 1, mask exact) in f64" in text
    first = e.value.report.failures[0]
    assert f"  {first['name']}: value " in text and f"exercises: {first['exercises']}" in text
    assert "matches no known divergence" in text
    assert e.value.report.failed >= 10


def test_unknowns_taken_as_negatives_fail_exactly_on_the_cases_with_unknowns():
    report = conform(unknowns_as_negatives, loss="twoway", dtype="f64", random=60)
    targets = {c.name: c.targets for c in conformance_cases("twoway", "f64", random=60)}
    failed = {c["name"] for c in report.failures}
    with_unknowns = {n for n, t in targets.items() if (t == -1).any()}
    assert failed and failed <= with_unknowns
    assert len(failed) >= len(with_unknowns) // 2


def test_a_one_percent_gradient_error_fails_on_the_gradient():
    with pytest.raises(ConformanceError, match=r"gradient at \[\d+, \d+\]") as e:
        assert_conforms(gradient_off_by_one_percent, loss="twoway", dtype="f32")
    # The value is right: every failure is on the gradient (cases whose gradient is about 0 pass).
    failures = e.value.report.failures
    assert len(failures) >= 20 and all(c["problem"].startswith("gradient at") for c in failures)


def test_the_release_op_sequence_fails_on_named_divergences_and_passes_when_they_are_allowed():
    # F.softplus's threshold and the NaN of an empty way: the release's two known divergences.
    with pytest.raises(ConformanceError) as e:
        assert_conforms(release_two_way, loss="twoway", dtype="f64", mask="official", random=100)
    ids = {d["id"] for c in e.value.report.failures for d in c["divergences"]}
    assert ids == {"softplus_threshold", "release_empty_way_nan"}
    assert "allow=['softplus_threshold'] accepts it" in str(e.value)
    allowed = ["softplus_threshold", "release_empty_way_nan"]
    report = assert_conforms(release_two_way, loss="twoway", dtype="f64", mask="official", random=100, allow=allowed)
    assert report.allowed_divergence == e.value.report.failed
    # Allowing one divergence accepts that one only.
    with pytest.raises(ConformanceError, match="release_empty_way_nan"):
        assert_conforms(release_two_way, loss="twoway", dtype="f64", mask="official", random=100,
                        allow=["softplus_threshold"])


CASES = conformance_cases("softmax", "f32", random=10)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_single_cases_run_through_the_engine(case):
    report = case.check(SoftmaxLoss())
    assert len(report.cases) == 1 and report.cases[0]["name"] == case.name


def test_a_single_failing_case_is_named():
    case = CASES[0]
    with pytest.raises(ConformanceError, match=case.name):
        case.check(lambda x, y: SoftmaxLoss()(x, y) * 1.01)
    assert case.expected_grad.shape == case.inputs.shape and np.isfinite(case.expected_value)


def test_metrics_conform_and_their_divergences_are_named():
    assert assert_conforms(lambda s, y: twoway.map_class(s, y), metric="map_class", dtype="f64")
    assert assert_conforms(lambda s, y: twoway.map_sample(s, y, ties="index"), metric="map_sample", ties="index",
                           dtype="f64")

    def skipped_as_zero(s, y):
        return float(np.nan_to_num(twoway.metrics.average_precision(s, y, axis=0)).mean())

    report = conform(skipped_as_zero, metric="map_class", dtype="f64")
    assert report.failed > 0
    assert all(d["id"] == "skipped_counted_as_zero" for c in report.failures for d in c["divergences"])


def test_a_raising_function_fails_its_cases_with_the_exception():
    def broken(x, y):
        raise RuntimeError("not implemented")

    report = conform(broken, loss="bce", dtype="f32", random=3)
    assert report.failed == len(report.cases)
    assert "raised: RuntimeError: not implemented (at test_testing.py:" in report.failures[0]["problem"]


def test_bad_requests_are_value_errors():
    with pytest.raises(ValueError, match="not a known divergence of a loss; expected one of"):
        conform(TwoWayLoss(), allow=["tie_rule"])
    with pytest.raises(ValueError, match="twoway takes no parameter `gamma`"):
        conform(TwoWayLoss(), gamma=2.0)
    with pytest.raises(ValueError, match=r"dtype=\"f8\""):
        conform(TwoWayLoss(), dtype="f8")
    with pytest.raises(ValueError, match="no case is named `nope`"):
        conform(TwoWayLoss(), only=["nope"])
    with pytest.raises(ValueError, match="metric="):
        conform(TwoWayLoss(), metric="map_class", tp=4.0)
