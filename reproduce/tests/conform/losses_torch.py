"""Implementations of the spec's losses in PyTorch, written for `twoway conform`'s tests: the correct ones
(functions and an nn.Module class) and seeded defects, each a small change of a correct one.

Every function takes logits (B x C, requires_grad) and targets (1 positive, 0 negative, -1 unknown) and
returns a scalar tensor; half-precision logits are computed in float32.
"""

import torch
from torch import nn

OFFSET = -100.0  # the release's additive offset for excluded entries (official masking)


def _compute(x):
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _softplus(z):
    """ln(1 + e^z), exact for every z (torch's F.softplus returns z itself above 20)."""
    return torch.logaddexp(z, torch.zeros_like(z))


def _mean_over_lines(losses, has_pos, x):
    if not bool(has_pos.any()):
        return x.sum() * 0.0
    return losses[has_pos].mean()


def _twoway_rows(x, y, tp, tn, mask, softplus=_softplus, lse=torch.logsumexp):
    """The two-way term of every row, and which rows hold a positive (softplus and lse replaceable, for the
    defects of losses_defects.py)."""
    pos, neg = y == 1, y == 0
    full = lambda v: torch.full_like(x, v)
    if mask == "official":
        vn = x / tn + torch.where(neg, full(0.0), full(OFFSET))
        vp = -x / tp + torch.where(pos, full(0.0), full(OFFSET))
        z = tn * lse(vn, 1) + tp * lse(vp, 1)
        return softplus(z), pos.any(1)
    has_n, has_p = neg.any(1, keepdim=True), pos.any(1, keepdim=True)
    vn = torch.where(has_n, torch.where(neg, x / tn, full(float("-inf"))), full(0.0))
    vp = torch.where(has_p, torch.where(pos, -x / tp, full(float("-inf"))), full(0.0))
    z = tn * lse(vn, 1) + tp * lse(vp, 1)
    keep = (has_n & has_p).squeeze(1)
    z = torch.where(keep, z, torch.zeros_like(z))
    return torch.where(keep, softplus(z), torch.zeros_like(z)), pos.any(1)


def _ways(line, x, y, way):
    total = x.sum() * 0.0
    if way in ("sample", "both"):
        losses, has_pos = line(x, y)
        total = total + _mean_over_lines(losses, has_pos, x)
    if way in ("class", "both"):
        losses, has_pos = line(x.t(), y.t())
        total = total + _mean_over_lines(losses, has_pos, x)
    return total


def twoway(logits, targets, tp=4.0, tn=1.0, way="both", mask="exact"):
    x, y = _compute(logits), _compute(targets)
    return _ways(lambda a, b: _twoway_rows(a, b, tp, tn, mask), x, y, way)


class TwoWayLoss(nn.Module):
    """The two-way loss as a module: TwoWayLoss(tp=4.0, tn=1.0, way="both", mask="exact")(logits, targets)."""

    def __init__(self, tp=4.0, tn=1.0, way="both", mask="exact"):
        super().__init__()
        self.tp, self.tn, self.way, self.mask = tp, tn, way, mask

    def forward(self, logits, targets):
        return twoway(logits, targets, self.tp, self.tn, self.way, self.mask)


def _softmax_rows(x, y, lse=torch.logsumexp):
    pos, labelled = y == 1, y >= 0
    has_pos = pos.any(1)
    v = torch.where(has_pos.unsqueeze(1), torch.where(labelled, x, torch.full_like(x, float("-inf"))), torch.zeros_like(x))
    n_pos = pos.sum(1).clamp(min=1).to(x.dtype)
    losses = lse(v, 1) - (x * pos).sum(1) / n_pos
    return torch.where(has_pos, losses, torch.zeros_like(losses)), has_pos


def softmax(logits, targets, way="sample"):
    x, y = _compute(logits), _compute(targets)
    return _ways(_softmax_rows, x, y, way)


def _reduce(entries, y, reduction):
    labelled = y >= 0
    total = torch.where(labelled, entries, torch.zeros_like(entries)).sum()
    if reduction == "sum_mean":
        return total / y.shape[0]
    if reduction == "mean":
        return total / max(int(labelled.sum()), 1)
    return total


def bce(logits, targets, reduction="sum_mean", softplus=_softplus):
    x, y = _compute(logits), _compute(targets)
    return _reduce(torch.where(y == 1, softplus(-x), softplus(x)), y, reduction)


def focal(logits, targets, gamma=2.0, alpha=None, reduction="sum_mean", softplus=_softplus):
    x, y = _compute(logits), _compute(targets)
    pos = y == 1
    s = torch.where(pos, x, -x)
    log_q = -softplus(-s)
    entries = -torch.sigmoid(-s) ** gamma * log_q
    if alpha is not None:
        entries = entries * torch.where(pos, torch.full_like(x, alpha), torch.full_like(x, 1.0 - alpha))
    return _reduce(entries, y, reduction)


def asl(logits, targets, gamma_neg=4.0, gamma_pos=0.0, clip=0.05, eps=1e-8, focus_grad=False, reduction="sum_mean"):
    x, y = _compute(logits), _compute(targets)
    pos = y == 1
    p, q = torch.sigmoid(x), torch.sigmoid(-x)
    base = torch.where(pos, p, torch.clamp(q + clip, max=1.0))
    one_minus = torch.where(pos, q, torch.clamp(p - clip, min=0.0))
    # Each branch of a where gets inputs on which it is finite, so that no NaN reaches the gradient.
    high, usable = base >= 0.5, base >= eps
    ln_base = torch.where(
        high, torch.log1p(-torch.where(high, one_minus, torch.zeros_like(x))), torch.log(torch.where(high | ~usable, torch.ones_like(x), base))
    )
    log = torch.where(usable, ln_base, torch.full_like(x, eps).log())
    gamma = torch.where(pos, torch.full_like(x, gamma_pos), torch.full_like(x, gamma_neg))
    w = one_minus ** gamma
    if not focus_grad:
        w = w.detach()
    return _reduce(-w * log, y, reduction)


# ---- seeded defects: each fails `twoway conform --loss twoway` on the cases it names ----


def swapped_temperatures(logits, targets):
    """Tp and Tn exchanged (the loss is called with tp=1, tn=4)."""
    return twoway(logits, targets, tp=1.0, tn=4.0)


def unknowns_as_negatives(logits, targets):
    """Unknown labels (-1) taken as negatives."""
    return twoway(logits, torch.where(targets < 0, torch.zeros_like(targets), targets))


def way_over_all_lines(logits, targets):
    """Each way averaged over all rows / columns, those without a positive counted as 0."""
    x, y = _compute(logits), _compute(targets)
    total = x.sum() * 0.0
    for a, b in ((x, y), (x.t(), y.t())):
        losses, has_pos = _twoway_rows(a, b, 4.0, 1.0, "exact")
        total = total + torch.where(has_pos, losses, torch.zeros_like(losses)).mean()
    return total


class _ScaleGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * 1.01


def gradient_off_by_one_percent(logits, targets):
    """The right value, with a gradient 1 % too large."""
    return twoway(_ScaleGradient.apply(logits), targets)


class ReleaseStyle(nn.Module):
    """What the facts say of the authors' release (written from ../shared/paper/facts.md, not from its
    code): -100 offsets for excluded entries, torch's thresholded softplus, and a plain mean over the
    lines with a positive, NaN when there is none."""

    def __init__(self, Tp=4.0, Tn=1.0):
        super().__init__()
        self.tp, self.tn = Tp, Tn

    def _way(self, x, y):
        pos, neg = y == 1, y == 0
        vn = x / self.tn + torch.where(neg, torch.zeros_like(x), torch.full_like(x, OFFSET))
        vp = -x / self.tp + torch.where(pos, torch.zeros_like(x), torch.full_like(x, OFFSET))
        z = self.tn * torch.logsumexp(vn, 1) + self.tp * torch.logsumexp(vp, 1)
        return torch.nn.functional.softplus(z)[pos.any(1)].mean()

    def forward(self, x, y):
        return self._way(x, y) + self._way(x.t(), y.t())
