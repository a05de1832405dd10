"""The thresholded metrics multi-label papers report beside mAP, and threshold tuning (re-exported by
:mod:`twoway.metrics`): the engine of the ``twoway metrics`` command.

A decision rule predicts a set of classes per sample: a threshold ``t`` on the probability
(``sigmoid(logit) >= t``, decided as ``logit >= ln(t / (1 - t))``; default 0.5), each sample's ``top_k``
classes (ties in class order), both, or one threshold per class (``thresholds``). The predictions are
counted per class against the targets (TP, FP, FN) and give, in percent:

- CP / CR: the mean over classes of precision / recall; CF1 = 2 CP CR / (CP + CR), the papers' CF1;
- OP / OR / OF1: the same from the counts pooled over every class;
- ``f1_mean``: the mean of per-class F1 (scikit-learn's macro F1), which is not CF1.

Conventions (``spec/data/metrics.yaml``, ``thresholded``): the class means run over the classes with a
counted positive; unknown (-1) labels count nowhere (``unknown="exclude"``) or as negatives
(``"negative"``); a ratio with a zero denominator, such as the precision of a class never predicted, is 0
(``undefined="zero"``), left out of its mean (``"skip"``) or NaN (``"nan"``). ``score_kind="probability"``
takes scores that are already probabilities. Inputs are read as :mod:`twoway.metrics` reads them.

Comparisons are exact: a score is widened to float64 and compared with the threshold in float64, so a
float32 0.7 (0.699999988) is below ``threshold=0.7`` (numpy and torch, which round 0.7 to float32 first,
would predict it).

The two-way loss ranks; its logits carry no calibrated threshold, so 0.5 may suit it badly. Tune one on a
held-out split with :func:`tune_thresholds` and pass it on. ``scale="score"`` keeps it on the scores'
scale (logits), where it is applied exactly as tuned; a probability far in the tails (sigmoid of a logit
above ~37 rounds to 1.0) does not convert back exactly::

    c = tune_thresholds(val_logits, val_targets, scale="score")   # one threshold, maximising OF1
    report = thresholded(test_logits, test_targets, threshold=c, scale="score")
    cs = tune_thresholds(val_logits, val_targets, per_class=True, scale="score")  # each class's F1
    report = thresholded(test_logits, test_targets, thresholds=cs, scale="score")
    print(tune_thresholds(val_logits, val_targets))               # the same threshold as a probability
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _native
from ._arrays import same_shape, scores_2d, targets_2d

__all__ = ["ThresholdReport", "thresholded", "tune_thresholds"]


@dataclass(frozen=True)
class ThresholdReport:
    """CP, CR, CF1, OP, OR, OF1 and the per-class F1 mean (percent; NaN where there is nothing to average,
    or under ``undefined="nan"``), with every class's counts."""

    cp: float
    cr: float
    cf1: float
    op: float
    or_: float
    of1: float
    f1_mean: float
    classes_evaluated: int
    classes_never_predicted: int
    predicted: int
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    def as_dict(self) -> dict:
        """The six metrics and the F1 mean by their spec keys (``cp``, ..., ``or``, ``of1``, ``f1_mean``)."""
        return {"cp": self.cp, "cr": self.cr, "cf1": self.cf1, "op": self.op, "or": self.or_, "of1": self.of1,
                "f1_mean": self.f1_mean}


def _nan(v: Optional[float]) -> float:
    return math.nan if v is None else v


def thresholded(
    scores: Any,
    targets: Any,
    *,
    threshold: Optional[float] = None,
    top_k: Optional[int] = None,
    thresholds: Optional[Sequence[float]] = None,
    scale: str = "probability",
    score_kind: str = "logit",
    unknown: str = "exclude",
    undefined: str = "zero",
) -> ThresholdReport:
    """The thresholded metrics of ``scores`` against ``targets`` (samples x classes) under one rule:
    ``thresholds`` (one per class), else ``top_k`` (each also at ``threshold`` if given), else
    ``threshold`` (default probability 0.5). Thresholds are probabilities, or with ``scale="score"`` on the
    scores' own scale (logits for logit scores). See the module's documentation for the conventions."""
    if scale not in ("probability", "score"):
        raise ValueError(f"scale={scale!r}: expected 'probability' or 'score'")
    s, t = scores_2d(scores), targets_2d(targets)
    same_shape(s, t)
    per_class = None
    if thresholds is not None:
        per_class = [float(x) for x in np.asarray(thresholds, dtype=np.float64).reshape(-1)]
        if len(per_class) != s.shape[1]:
            raise ValueError(f"thresholds has {len(per_class)} entries but scores has {s.shape[1]} classes")
        if threshold is not None:
            raise ValueError("give threshold= or thresholds=, not both")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"top_k={top_k!r}: predict at least one class per sample (an integer >= 1)")
    if top_k is not None:
        top_k = min(int(top_k), s.shape[1])  # k beyond the class count predicts every class
    r = _native.thresholded(s, t, None if threshold is None else float(threshold), top_k, per_class,
                            scale == "score", score_kind, unknown, undefined)
    return ThresholdReport(_nan(r["cp"]), _nan(r["cr"]), _nan(r["cf1"]), _nan(r["op"]), _nan(r["or"]),
                           _nan(r["of1"]), _nan(r["f1_mean"]), r["classes_evaluated"], r["classes_never_predicted"],
                           r["predicted"], r["tp"], r["fp"], r["fn"])


def tune_thresholds(
    scores: Any,
    targets: Any,
    *,
    per_class: bool = False,
    scale: str = "probability",
    score_kind: str = "logit",
    unknown: str = "exclude",
) -> Union[float, np.ndarray]:
    """Thresholds tuned on a tuning split: the one maximising OF1 (a float), or with ``per_class=True`` one
    per class maximising its F1 (an array; a class without a positive keeps probability 0.5). Each lies
    halfway, on the scores' scale, between the lowest score it keeps and the next lower one; ties in F1 go
    to the higher threshold. Returned as probabilities, or with ``scale="score"`` on the scores' scale
    (pass those to :func:`thresholded` with ``scale="score"`` to apply them exactly)."""
    if scale not in ("probability", "score"):
        raise ValueError(f"scale={scale!r}: expected 'probability' or 'score'")
    s, t = scores_2d(scores), targets_2d(targets)
    same_shape(s, t)
    probs, cuts, _ = _native.tune(s, t, bool(per_class), score_kind, unknown)
    out = cuts if scale == "score" else probs
    return np.asarray(out, dtype=np.float64) if per_class else float(out[0])
