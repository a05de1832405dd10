"""The spec's conformance suite inside pytest: the cases and the comparison of ``twoway conform``, run in
process on your own loss.

>>> from twoway.testing import assert_conforms
>>> def test_my_loss():
...     assert_conforms(MyTwoWayLoss(tp=4.0, tn=1.0), loss="twoway", dtype="f32", tp=4.0, tn=1.0)

The cases are the spec's vectors of the loss and seeded random ones (from small logits to where only
stable forms of softplus and logsumexp survive), with the reference's numbers; each answer is compared
within the spec's bounds for the dtype (``spec/data/conformance.yaml``), and a failure is matched against
the spec's known divergences (the release's -100 masking, torch's softplus threshold, the release's NaN on
an empty way, ...). ``allow=["softplus_threshold"]`` accepts named divergences, as ``twoway conform
--allow-divergence`` does; every other case must pass.

A loss is called as ``fn(logits, targets)``: logits a torch tensor of the dtype with ``requires_grad``,
targets a tensor of 1 / 0 / -1 in the same dtype; it returns a scalar tensor, whose gradient comes from
autograd. A metric (``metric="map_class"``) is called on float64 numpy arrays and returns percent.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np

from . import _native

__all__ = ["Case", "ConformanceError", "Report", "assert_conforms", "conform", "conformance_cases"]

_DRIVER: Optional[types.ModuleType] = None


def _driver() -> types.ModuleType:
    """The engine's driver (the code ``twoway conform --python`` runs), loaded once as a module."""
    global _DRIVER
    if _DRIVER is None:
        module = types.ModuleType("twoway._conform_driver")
        exec(compile(_native.DRIVER_SOURCE, "<twoway conform driver>", "exec"), module.__dict__)
        _DRIVER = module
    return _DRIVER


class ConformanceError(AssertionError):
    """Raised by :func:`assert_conforms`: the report's failing cases, each with what it exercises,
    expected and got, and the known divergence it matches."""

    def __init__(self, message: str, report: "Report") -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Report:
    """A conformance run: ``passed`` / ``failed`` counts, every case's outcome (dicts, as ``twoway conform
    --format json`` writes them) and the text report."""

    subject: str
    dtype: str
    passed: int
    failed: int
    allowed_divergence: int
    cases: List[Dict[str, Any]]
    text: str = field(repr=False)

    @property
    def failures(self) -> List[Dict[str, Any]]:
        return [c for c in self.cases if not c["passed"]]

    def __bool__(self) -> bool:
        return self.failed == 0


def _suite(loss: str, metric: Optional[str], params: Dict[str, Any], **rest: Any) -> Dict[str, Any]:
    """The suite as the engine reads it: a loss with its parameters, or a metric (with its tie rule)."""
    if metric is not None and params:
        raise ValueError(f"{', '.join(sorted(params))}: loss parameters, but metric= was given (it takes ties=)")
    subject = {"loss": None, "metric": metric} if metric is not None else {"loss": loss, "metric": None}
    return {**subject, "params": params, **rest}


def _caller(fn: Callable, kind: str, dtype: str) -> Callable:
    d = _driver()
    torch = None
    if kind == "loss":
        import torch

    def call(name: str, inputs: np.ndarray, targets: np.ndarray) -> Any:
        try:
            if kind == "loss":
                return d.answer_loss(fn, inputs, targets, dtype, np, torch)
            return d.answer_metric(fn, inputs, targets)
        except Exception as e:  # the user's function raised: that case fails, naming it
            return d.describe_exception(e)

    return call


def _label(fn: Callable) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or type(fn).__module__}.{name}"


def conform(
    fn: Callable,
    loss: str = "twoway",
    dtype: str = "f32",
    *,
    metric: Optional[str] = None,
    ties: str = "grouped",
    cases: str = "all",
    random: int = 50,
    seed: int = 0,
    seeds: int = 1,
    allow: Iterable[str] = (),
    only: Iterable[str] = (),
    **params: Any,
) -> Report:
    """Runs the suite on ``fn`` and returns the :class:`Report` (no assertion). ``loss`` and ``params``
    name the loss and its parameters (the spec's defaults for those not given), or ``metric`` a metric
    (``"map_class"``, ``"map_sample"``) with its tie rule; ``dtype`` is ``"f64"``, ``"f32"``, ``"f16"`` or
    ``"bf16"``; ``cases`` is ``"all"``, ``"vectors"`` or ``"random"``; ``random`` cases are drawn for each
    of ``seeds`` seeds from ``seed`` on; ``only`` restricts the run to the named cases."""
    suite = _suite(loss, metric, params, ties=ties, dtype=dtype, cases=cases, random=int(random), seed=int(seed),
                   seeds=int(seeds))
    kind = "loss" if metric is None else "metric"
    raw, text = _native.conform(_caller(fn, kind, dtype), _label(fn), json.dumps(suite), list(allow), list(only))
    r = json.loads(raw)
    return Report(r["subject"], r["dtype"], r["passed"], r["failed"], r["allowed_divergence"], r["cases"], text)


def _failure_lines(c: Dict[str, Any], allow: Iterable[str]) -> List[str]:
    lines = [f"  {c['name']}: {c.get('problem') or 'failed'}", f"      exercises: {c['exercises']}"]
    for d in c.get("divergences", []):
        hint = "" if d["id"] in allow else f"; allow=[{d['id']!r}] accepts it"
        lines.append(f"      matches the known divergence `{d['id']}` ({d['spec']}): {d['what']}{hint}")
    if not c.get("divergences"):
        lines.append("      matches no known divergence")
    return lines


def assert_conforms(fn: Callable, loss: str = "twoway", dtype: str = "f32", **kwargs: Any) -> Report:
    """Runs the suite on ``fn`` (see :func:`conform` for the arguments) and raises
    :class:`ConformanceError` (an ``AssertionError``) naming every failing case, what it exercises,
    expected and got, and the known divergence it matches. Returns the report when every case passes."""
    report = conform(fn, loss, dtype, **kwargs)
    if report.failed:
        allow = list(kwargs.get("allow", ()))
        head = (
            f"{_label(fn)} does not conform to {report.subject} in {report.dtype}: "
            f"{report.failed} of {len(report.cases)} cases fail"
        )
        lines = [head]
        for c in report.failures[:20]:
            lines.extend(_failure_lines(c, allow))
        if report.failed > 20:
            lines.append(f"  ... and {report.failed - 20} more")
        raise ConformanceError("\n".join(lines), report)
    return report


@dataclass(frozen=True)
class Case:
    """One conformance case: its inputs (logits or scores, float64, already rounded to the dtype), targets,
    the expected value (and gradient for a loss), and what it exercises. ``check(fn)`` runs this one case
    through the engine's comparison and raises :class:`ConformanceError` when it fails."""

    name: str
    exercises: str
    inputs: np.ndarray = field(repr=False)
    targets: np.ndarray = field(repr=False)
    expected_value: float
    expected_grad: Optional[np.ndarray] = field(repr=False)
    _suite: Dict[str, Any] = field(repr=False, compare=False)

    def check(self, fn: Callable, *, allow: Iterable[str] = ()) -> Report:
        return assert_conforms(fn, allow=allow, only=[self.name], **self._suite)


def conformance_cases(
    loss: str = "twoway",
    dtype: str = "f32",
    random: int = 50,
    seed: int = 0,
    *,
    metric: Optional[str] = None,
    ties: str = "grouped",
    cases: str = "all",
    seeds: int = 1,
    **params: Any,
) -> List[Case]:
    """The suite's cases (arguments as in :func:`conform`), for ``pytest.mark.parametrize``:

    >>> @pytest.mark.parametrize("case", conformance_cases("twoway", "f32"), ids=lambda c: c.name)
    ... def test_case(case):
    ...     case.check(my_loss)
    """
    rest = dict(ties=ties, dtype=dtype, cases=cases, random=int(random), seed=int(seed), seeds=int(seeds))
    built = _native.cases(json.dumps(_suite(loss, metric, params, **rest)))
    suite = dict(loss=loss, metric=metric, **rest, **params)
    return [Case(c["name"], c["exercises"], c["inputs"], c["targets"], c["value"], c["grad"], suite) for c in built]
