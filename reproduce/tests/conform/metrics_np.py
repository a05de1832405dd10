"""mAP@class and mAP@sample in numpy, written for `twoway conform`'s tests: the correct ones and seeded
defects. Each takes float64 scores and targets (1 / 0 / -1, samples x classes) and returns percent, NaN
when no line has a positive."""

import numpy as np


def ap(s, y, ties="grouped", denominator_eps=0.0):
    """AP in [0, 1] of one vector; None without a positive. Unknowns dropped."""
    keep = y >= 0
    s, y = s[keep], y[keep]
    positives = int((y == 1).sum())
    if positives == 0:
        return None
    if ties == "index":
        ranked = y[np.argsort(-s, kind="stable")] == 1
        precision = np.cumsum(ranked) / np.arange(1, len(ranked) + 1)
        total = precision[ranked].sum()
    else:
        total = sum(((s >= t) & (y == 1)).sum() / (s >= t).sum() for t in s[y == 1])
    return total / (positives + denominator_eps)


def mean_ap(aps, empty_as_zero=False):
    if empty_as_zero:
        aps = [0.0 if a is None else a for a in aps]
    kept = [a for a in aps if a is not None]
    return float("nan") if not kept else 100.0 * float(np.mean(kept))


def map_class(scores, targets, ties="grouped"):
    return mean_ap([ap(scores[:, j], targets[:, j], ties) for j in range(scores.shape[1])])


def map_sample(scores, targets, ties="grouped"):
    return mean_ap([ap(scores[i], targets[i], ties) for i in range(scores.shape[0])])


# ---- seeded defects ----


def map_sample_index_ties(scores, targets):
    """Ties ranked by position (a stable sort), where the spec groups them."""
    return map_sample(scores, targets, ties="index")


def map_class_empty_as_zero(scores, targets):
    """A class without a positive counted as AP 0."""
    aps = [ap(scores[:, j], targets[:, j]) for j in range(scores.shape[1])]
    return mean_ap(aps, empty_as_zero=True)


def map_sample_release_denominator(scores, targets):
    """AP divided by (positives + 1e-8), as the release does."""
    return mean_ap([ap(scores[i], targets[i], denominator_eps=1e-8) for i in range(scores.shape[0])])
