"""The two-way multi-label loss (Kobayashi, CVPR 2023) and its four baselines as PyTorch modules.

Every loss here is an ``nn.Module`` written in plain PyTorch ops, for use in your own training script::

    from twoway.torch import TwoWayLoss
    criterion = TwoWayLoss()                  # tp=4.0, tn=1.0, way="both", mask="exact"
    loss = criterion(model(images), targets)  # logits B x C, targets B x C of 1 / 0 / -1
    loss.backward()

Inputs. ``forward(logits, targets)`` takes logits of shape (B, C) (samples x classes) in any floating
dtype on any device, and targets of the same shape in any dtype (float, integer or bool): a target > 0
is a positive, == 0 a negative and < 0 unknown. Unknown entries never contribute to any loss, neither to
its value nor to its gradient (bool targets have no unknowns). It returns a scalar tensor.

Dtypes. float64 and float32 logits are computed in their own dtype; float16 and bfloat16 (and other
floats narrower than 32 bits) are computed in float32 and the loss is returned in float32, so that the
value keeps float32's precision; autograd returns the gradient in the logits' dtype. The modules work
inside ``torch.autocast`` (none of their ops is one that autocast narrows) and under ``torch.compile``
(no Python branch depends on a tensor's value, and nothing forces a device-to-host sync).

Numerics. softplus is computed exactly, ln(1 + e^z) = logaddexp(z, 0) with derivative sigmoid(z), for
every z (``torch.nn.functional.softplus`` switches to z itself above 20); log-sums-of-exps use the
max-shifted form. Batches without a positive, all-unknown targets and huge logits (float32's range,
float16's largest values) give the spec's value and a finite gradient, never NaN. The value is about as
large as the largest |logit|, so it overflows to inf only where the loss itself exceeds float32's range
(bfloat16 logits near bfloat16's largest value, 3.4e38); the gradient stays finite there.

The definitions, parameters and defaults follow the project's spec (``spec/data/losses.yaml``); the
project's ``twoway conform`` checks an implementation against the spec's reference numbers.
"""

import math
import numbers
from typing import Optional

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["TwoWayLoss", "SoftmaxLoss", "BCELoss", "FocalLoss", "AsymmetricLoss"]

_WAYS = ("both", "class", "sample")
_MASKS = ("exact", "official")
_REDUCTIONS = ("sum_mean", "mean", "sum")
_OFFSET = -100.0  # the authors' release: additive offset of an excluded entry (mask="official")
_NEG_INF = float("-inf")


# ---- argument checks ----------------------------------------------------------------------------------


def _choice(name, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _real(name, value, low=None, low_open=False, high=None, high_open=False):
    """A finite real number within the given bounds, as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value!r}")
    return value


def _inputs(logits, targets):
    """Checks the shapes and dtypes (metadata only: no device sync); returns the logits in the compute
    dtype and the positive and negative masks."""
    if not torch.is_tensor(logits) or not torch.is_tensor(targets):
        raise TypeError(f"logits and targets must be tensors, got {type(logits).__name__} and {type(targets).__name__}")
    if logits.dim() != 2 or targets.shape != logits.shape:
        raise ValueError(
            f"logits and targets must both be B x C (samples x classes) tensors of the same shape, got "
            f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)}"
        )
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got {logits.dtype}")
    x = logits.float() if logits.element_size() < 4 else logits
    return x, targets > 0, targets == 0


def _softplus(z):
    """ln(1 + e^z), exact for every z (no threshold), derivative sigmoid(z)."""
    return torch.logaddexp(z, z.new_zeros(()))


def _way_mean(per_line, has_pos):
    """Mean of the per-line losses over the lines with a positive (per_line is 0 on the others); 0 with a
    zero gradient when no line has one."""
    return per_line.sum() / has_pos.sum().clamp(min=1)


def _reduce(entries, labelled, reduction):
    total = torch.where(labelled, entries, 0.0).sum()
    if reduction == "sum_mean":
        return total / max(entries.shape[0], 1)
    if reduction == "mean":
        return total / labelled.sum().clamp(min=1)
    return total


# ---- the set-based losses -----------------------------------------------------------------------------


def _exp_shifted(v, dim, in_place):
    """e = exp(v - max v) along dim (zeros on a line of -inf, an empty set), with the max and the sums of e
    along dim (keepdim). in_place reuses v's memory for e."""
    m = torch.amax(v, dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, 0.0)
    e = v.sub_(m) if in_place else v - m
    e.exp_()
    return e, m, e.sum(dim, keepdim=True)


class _TwoWayFunction(torch.autograd.Function):
    """The two-way loss with its gradient in closed form. d/dx of T * logsumexp(+-x / T) is +-softmax, so
    the backward pass is a weighted sum of the softmax numerators e that the forward pass computed, four
    full-size passes instead of autograd's replay of every op; e is zero outside its set (exact masking)."""

    @staticmethod
    def forward(ctx, x, pos, neg, tp, tn, dims, official):
        if official:
            vn, vp = x / tn, x / -tp
            vn, vp = torch.where(neg, vn, vn + _OFFSET), torch.where(pos, vp, vp + _OFFSET)
        else:
            vn = torch.where(neg, x, _NEG_INF)
            vn = vn if tn == 1.0 else vn.div_(tn)
            vp = torch.where(pos, x, float("inf")).div_(-tp)
        total, saved = None, []
        for i, dim in enumerate(dims):
            last = i == len(dims) - 1  # vn and vp are not needed after the last way: e overwrites them
            en, mn, sn = _exp_shifted(vn, dim, last)
            ep, mp, sp = _exp_shifted(vp, dim, last)
            # tn * lse_N + tp * lse_P with lse = m + ln(s): -inf on an empty set, and then softplus(z) = 0.
            z = tn * (mn + torch.log(sn)) + tp * (mp + torch.log(sp))
            has_pos = pos.any(dim, keepdim=True) if official else sp > 0
            count = has_pos.sum().clamp(min=1)
            per_line, weight = _softplus(z), torch.sigmoid(z) / count  # weight: d loss / d z
            if official:
                per_line, weight = torch.where(has_pos, per_line, 0.0), torch.where(has_pos, weight, 0.0)
            term = per_line.sum() / count
            total = term if total is None else total + term
            saved += [en, ep, torch.where(sn > 0, weight / sn, 0.0), torch.where(sp > 0, weight / sp, 0.0)]
        ctx.save_for_backward(*saved)
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        saved, grad = ctx.saved_tensors, None
        for k in range(0, len(saved), 4):
            en, ep, cn, cp = saved[k : k + 4]
            if grad is None:
                grad = en * (cn * grad_out)
            else:
                grad.addcmul_(en, cn * grad_out)
            grad.addcmul_(ep, cp * -grad_out)
        return grad, None, None, None, None, None, None


class TwoWayLoss(nn.Module):
    """The two-way multi-label loss (the paper's "Ours").

    For one index set (a row or a column of the batch) with positives P and negatives N::

        l = softplus(tn * logsumexp_{n in N}(x_n / tn) + tp * logsumexp_{p in P}(-x_p / tp))

    a smooth version of "the hardest negative should score below the hardest positive", with the
    temperatures setting how hard. The *sample way* applies it to every row (P and N run over the
    classes of one sample: it ranks classes, for mAP@sample), the *class way* to every column (P and N
    run over the samples of the batch: it ranks samples, for mAP@class). Rows / columns without a
    positive are dropped and each way is the mean over the remaining ones; ``way="both"`` is the class-way
    mean *plus* the sample-way mean (a sum of the two means, not their average).

    Args:
        tp (float, default 4.0): temperature of the positives, Tp > 0.
        tn (float, default 1.0): temperature of the negatives, Tn > 0.
        way (str, default "both"): "both", "class" or "sample".
        mask (str, default "exact"): how entries outside a set are excluded. "exact": they are -inf
            inside the logsumexp (set semantics), so a line with no negative has logsumexp -inf and
            contributes 0. "official": they get the authors' release's additive -100 offset (after the
            division by the temperature); it differs from "exact" only when |x| / T nears 100 or a set is
            empty.

    Unknown targets (< 0) are in neither set. A way with no line holding a positive (e.g. a batch without
    any positive) contributes 0 with a zero gradient, where the authors' release returns NaN. The class
    way compares the samples of one batch, so the loss depends on the batch size.

    Dtypes: float16 / bfloat16 logits are computed in float32 and the loss is returned in float32.

    The gradient is computed in closed form (a custom autograd function: the derivative of
    T * logsumexp(x / T) is the softmax), which is faster and lighter than autograd's replay of the ops;
    it supports one backward pass (``create_graph=True``, a gradient of the gradient, is not supported).
    """

    def __init__(self, tp: float = 4.0, tn: float = 1.0, way: str = "both", mask: str = "exact") -> None:
        super().__init__()
        self.tp = _real("tp", tp, low=0.0, low_open=True)
        self.tn = _real("tn", tn, low=0.0, low_open=True)
        self.way = _choice("way", way, _WAYS)
        self.mask = _choice("mask", mask, _MASKS)

    def extra_repr(self) -> str:
        return f"tp={self.tp}, tn={self.tn}, way={self.way!r}, mask={self.mask!r}"

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x, pos, neg = _inputs(logits, targets)
        if x.numel() == 0:  # an empty batch: no line with a positive
            return x.sum()
        dims = {"both": (1, 0), "sample": (1,), "class": (0,)}[self.way]
        return _TwoWayFunction.apply(x, pos, neg, self.tp, self.tn, dims, self.mask == "official")


class SoftmaxLoss(nn.Module):
    """Multi-label softmax cross-entropy (the paper's "Softmax" baseline).

    For every row with at least one positive: the mean over its positives p of -log softmax(x)_p, the
    softmax running over the row's labelled entries (positives and negatives), i.e.
    ``logsumexp(labelled x) - mean(positive x)``. Rows without a positive are dropped and the loss is the
    mean over the rest. ``way="class"`` applies the same to the columns (a softmax over the samples of
    the batch); ``way="both"`` is the sum of the two way means, as for :class:`TwoWayLoss`.

    Args:
        way (str, default "sample"): "sample" (the ordinary per-sample softmax), "class" or "both".

    Unknown targets (< 0) are left out of the softmax. A way with no line holding a positive contributes
    0 with a zero gradient. float16 / bfloat16 logits are computed in float32; the loss is float32.
    """

    def __init__(self, way: str = "sample") -> None:
        super().__init__()
        self.way = _choice("way", way, _WAYS)

    def extra_repr(self) -> str:
        return f"way={self.way!r}"

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x, pos, neg = _inputs(logits, targets)
        v = torch.where(pos | neg, x, _NEG_INF)
        xpos = torch.where(pos, x, 0.0)
        total = None
        for dim in (1, 0) if self.way == "both" else ((1,) if self.way == "sample" else (0,)):
            n_pos = pos.sum(dim)
            per_line = torch.logsumexp(v, dim) - xpos.sum(dim) / n_pos.clamp(min=1)
            has_pos = n_pos > 0
            term = _way_mean(torch.where(has_pos, per_line, 0.0), has_pos)
            total = term if total is None else total + term
        return total


# ---- the element-wise losses --------------------------------------------------------------------------

_REDUCTION_DOC = """reduction (str, default "sum_mean"): "sum_mean" sums over the labelled entries and
            divides by the batch size B (the sum over classes, averaged over samples); "mean" divides by
            the number of labelled entries (0 when there is none); "sum" is the plain sum."""


class BCELoss(nn.Module):
    __doc__ = f"""Binary cross-entropy on logits (the paper's "BCE" baseline).

    Per entry: softplus(-x) = -log sigmoid(x) for a positive, softplus(x) = -log(1 - sigmoid(x)) for a
    negative, computed exactly for every x; unknown entries (target < 0) are 0 and left out of the counts.

    Args:
        {_REDUCTION_DOC}

    float16 / bfloat16 logits are computed in float32; the loss is float32.
    """

    def __init__(self, reduction: str = "sum_mean") -> None:
        super().__init__()
        self.reduction = _choice("reduction", reduction, _REDUCTIONS)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x, pos, neg = _inputs(logits, targets)
        return _reduce(_softplus(torch.where(pos, -x, x)), pos | neg, self.reduction)


class FocalLoss(nn.Module):
    __doc__ = f"""Focal loss (Lin et al.) on logits (the paper's "Focal" baseline).

    Per entry, with p = sigmoid(x) and p_t = p for a positive, 1 - p for a negative::

        -alpha_t * (1 - p_t) ** gamma * log(p_t)

    alpha_t = alpha on positives and 1 - alpha on negatives, or 1 when alpha is None. Computed in the log
    domain (log p_t = -softplus(-s), (1 - p_t) ** gamma = exp(-gamma * softplus(s)), s = x or -x), so
    it is exact and finite for every logit and every gamma >= 0. Unknown entries (target < 0) are 0.

    Args:
        gamma (float, default 2.0): focusing exponent, >= 0 (0 gives BCE).
        alpha (float or None, default None): weight of the positives, in [0, 1]; None weighs all 1.
        {_REDUCTION_DOC}

    float16 / bfloat16 logits are computed in float32; the loss is float32.
    """

    def __init__(self, gamma: float = 2.0, alpha: Optional[float] = None, reduction: str = "sum_mean") -> None:
        super().__init__()
        self.gamma = _real("gamma", gamma, low=0.0)
        self.alpha = None if alpha is None else _real("alpha", alpha, low=0.0, high=1.0)
        self.reduction = _choice("reduction", reduction, _REDUCTIONS)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, reduction={self.reduction!r}"

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x, pos, neg = _inputs(logits, targets)
        s = torch.where(pos, x, -x)
        entries = _softplus(-s)  # -log p_t
        if self.gamma != 0.0:
            entries = entries * torch.exp(-self.gamma * _softplus(s))
        if self.alpha is not None:
            entries = torch.where(pos, entries * self.alpha, entries * (1.0 - self.alpha))
        return _reduce(entries, pos | neg, self.reduction)


class AsymmetricLoss(nn.Module):
    __doc__ = f"""Asymmetric loss (Ridnik et al., ASL) on logits (the paper's "ASL" baseline).

    With p = sigmoid(x), per entry::

        positive: -(1 - p) ** gamma_pos * log(max(p, eps))
        negative: -p_m ** gamma_neg * log(max(1 - p_m, eps)),   p_m = max(p - clip, 0)

    the shifted probability p_m discarding easy negatives (p <= clip). Unknown entries (target < 0) are 0.
    The logs are computed stably (log p = -softplus(-x); log(1 - p_m) = log(min(sigmoid(-x) + clip, 1))),
    so that no logit gives NaN or inf.

    Args:
        gamma_neg (float, default 4.0): focusing exponent of the negatives, >= 0.
        gamma_pos (float, default 0.0): focusing exponent of the positives, >= 0 (the ASL class's own
            default is 1; 0 is their MS-COCO training).
        clip (float, default 0.05): probability margin of the negatives, in [0, 1).
        eps (float, default 1e-8): clamp of the probabilities inside the logs, in [0, 1).
        focus_grad (bool, default False): whether the focusing weights (1 - p) ** gamma_pos and
            p_m ** gamma_neg are differentiated; False treats them as constants (detached), as the ASL
            authors' MS-COCO training did.
        {_REDUCTION_DOC}

    float16 / bfloat16 logits are computed in float32; the loss is float32.
    """

    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 0.0,
        clip: float = 0.05,
        eps: float = 1e-8,
        focus_grad: bool = False,
        reduction: str = "sum_mean",
    ) -> None:
        super().__init__()
        self.gamma_neg = _real("gamma_neg", gamma_neg, low=0.0)
        self.gamma_pos = _real("gamma_pos", gamma_pos, low=0.0)
        self.clip = _real("clip", clip, low=0.0, high=1.0, high_open=True)
        self.eps = _real("eps", eps, low=0.0, high=1.0, high_open=True)
        if not isinstance(focus_grad, bool):
            raise ValueError(f"focus_grad must be True or False, got {focus_grad!r}")
        self.focus_grad = focus_grad
        self.reduction = _choice("reduction", reduction, _REDUCTIONS)

    def extra_repr(self) -> str:
        return (f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}, eps={self.eps}, "
                f"focus_grad={self.focus_grad}, reduction={self.reduction!r}")

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x, pos, neg = _inputs(logits, targets)
        log_eps = math.log(self.eps) if self.eps > 0.0 else _NEG_INF
        sp = _softplus(x)  # -log(1 - p)
        log_p = torch.clamp(-_softplus(-x), min=log_eps)
        if self.clip > 0.0:
            # q + clip >= clip > 0: the log is finite, and its value and gradient accurate.
            log_q = torch.log(torch.clamp(torch.sigmoid(-x) + self.clip, min=self.eps, max=1.0))
        else:
            log_q = torch.clamp(-sp, min=log_eps)
        w_neg = torch.clamp(torch.sigmoid(x) - self.clip, min=0.0) ** self.gamma_neg
        w_pos = torch.exp(-self.gamma_pos * sp) if self.gamma_pos != 0.0 else 1.0
        weight = torch.where(pos, w_pos, w_neg)
        if not self.focus_grad:
            weight = weight.detach()
        return _reduce(-weight * torch.where(pos, log_p, log_q), pos | neg, self.reduction)
