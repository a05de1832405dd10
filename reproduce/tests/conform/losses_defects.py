"""Defects of issue 29 (items 11-14) for `twoway conform`'s tests, each a small change of a correct loss of
losses_torch.py, and the ASL authors' formulation written out as it is commonly used.

Same calling convention as losses_torch.py: (logits B x C with requires_grad, targets 1 / 0 / -1) -> a
scalar tensor; half-precision logits are computed in float32 unless the defect says otherwise.
"""

import torch
import torch.nn.functional as F

import losses_torch as L


def _naive_softplus(z):
    """ln(1 + e^z) taken literally: e^z overflows beyond 88.7 in float32 and 709.8 in float64."""
    return torch.log(1 + torch.exp(z))


def _naive_logsumexp(v, dim):
    """ln(sum e^v) taken literally, without subtracting the maximum first."""
    return torch.log(torch.exp(v).sum(dim))


def _torch_softplus(z):
    """torch's F.softplus: z itself above its threshold of 20."""
    return F.softplus(z)


# ---- item 11: logits clamped at +-15 ----


def twoway_clamped_15(logits, targets):
    return L.twoway(logits.clamp(-15.0, 15.0), targets)


def softmax_clamped_15(logits, targets):
    return L.softmax(logits.clamp(-15.0, 15.0), targets)


# ---- item 12: direct forms that overflow ----


def twoway_naive_softplus(logits, targets):
    x, y = L._compute(logits), L._compute(targets)
    return L._ways(lambda a, b: L._twoway_rows(a, b, 4.0, 1.0, "exact", softplus=_naive_softplus), x, y, "both")


def twoway_naive_logsumexp(logits, targets):
    x, y = L._compute(logits), L._compute(targets)
    return L._ways(lambda a, b: L._twoway_rows(a, b, 4.0, 1.0, "exact", lse=_naive_logsumexp), x, y, "both")


def softmax_naive_logsumexp(logits, targets):
    x, y = L._compute(logits), L._compute(targets)
    return L._ways(lambda a, b: L._softmax_rows(a, b, lse=_naive_logsumexp), x, y, "sample")


def bce_naive_softplus(logits, targets):
    return L.bce(logits, targets, softplus=_naive_softplus)


def focal_naive_softplus(logits, targets):
    return L.focal(logits, targets, softplus=_naive_softplus)


# ---- item 14: torch's thresholded softplus; a value returned in the input's half dtype ----


def bce_torch_softplus(logits, targets):
    return L.bce(logits, targets, softplus=_torch_softplus)


def focal_torch_softplus(logits, targets):
    return L.focal(logits, targets, softplus=_torch_softplus)


def twoway_value_in_input_dtype(logits, targets):
    """Computed in float32 (correctly), then cast back to the logits' dtype (f16 / bf16)."""
    return L.twoway(logits, targets).to(logits.dtype)


def bce_value_in_input_dtype(logits, targets):
    return L.bce(logits, targets).to(logits.dtype)


# ---- item 13: the ASL authors' formulation as it is widely copied ----


def asl_widely_copied(logits, targets, gamma_neg=4.0, gamma_pos=0.0, clip=0.05, eps=1e-8, focus_grad=False,
                      reduction="sum"):
    """Asymmetric loss in its common form: p = sigmoid(x); the negative's probability 1 - p shifted by the
    clip and capped at 1; log of each probability clamped below at eps; the one-sided focusing weight
    (1 - p_t)^gamma computed without a gradient unless focus_grad; the negative sum over entries. Unknown
    labels (which that form does not know) are left out; `reduction` as the spec's."""
    x, y = L._compute(logits), L._compute(targets)
    labelled = (y >= 0).to(x.dtype)
    t = y.clamp(min=0.0)
    p = torch.sigmoid(x)
    p_neg = 1 - p
    if clip is not None and clip > 0:
        p_neg = (p_neg + clip).clamp(max=1.0)
    log_terms = t * torch.log(p.clamp(min=eps)) + (1 - t) * torch.log(p_neg.clamp(min=eps))
    with torch.set_grad_enabled(focus_grad and torch.is_grad_enabled()):
        p_t = p * t + p_neg * (1 - t)
        gamma = gamma_pos * t + gamma_neg * (1 - t)
        weight = torch.pow(1 - p_t, gamma)
    entries = -(log_terms * weight) * labelled
    return L._reduce(entries, y, reduction)
