#!/usr/bin/env python3
"""An independent oracle for `twoway eval` and `twoway map`, written from ../shared/paper/facts.md with
PyTorch (float64 autograd), numpy and scikit-learn; it shares no code with the Rust crates.

It writes seeded cases (inputs as .npy) and the oracle's answers to reproduce/tests/oracle/, which the
end-to-end test `reproduce/tests/cli_oracle.rs` runs through the `twoway` binary.

    .venv/bin/python tools/oracle.py     # rewrites reproduce/tests/oracle/

Semantics (the spec's):
- two-way, `official` masking: the release's op sequence (additive -100 masks after the division by T,
  logsumexp per way, lines without a positive dropped), except that a way with no line left contributes 0
  instead of the release's NaN;
- two-way, `exact` masking: the same with -inf masks; a line whose negative set is empty contributes 0;
- softmax: mean over a line's positives of -log_softmax over its labelled entries; lines without a
  positive dropped; `both` = class mean + sample mean;
- BCE / focal / ASL: per-entry terms, unknown entries dropped, reduced by sum_mean / mean / sum;
- AP: `grouped` ties = scikit-learn's average_precision_score, `index` ties = the release's precision-at-
  rank loop with a stable descending sort; exact denominator.
"""
import json
import os

import numpy as np
import torch
from sklearn.metrics import average_precision_score

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reproduce", "tests", "oracle")


def softplus(z):
    """Exact softplus ln(1 + e^z) with gradient sigmoid(z). (torch's F.softplus returns z itself above its
    threshold of 20, so its gradient there is 1 instead of sigmoid(z).)"""
    return torch.logaddexp(z, torch.zeros_like(z))


def two_way(x, y, tp, tn, way, mask):
    off = -100.0 if mask == "official" else float("-inf")
    pos, neg = y > 0, y == 0
    total = x.new_zeros(())
    dims = {"class": [0], "sample": [1], "both": [0, 1]}[way]
    for dim in dims:
        keep = pos.any(dim=dim)
        if not keep.any():
            continue  # an empty way contributes 0 (the release: NaN)
        if mask == "official":
            # The release: x / T plus an additive mask (0 inside the set, -100 outside).
            p_in = -x / tp + torch.zeros_like(x).masked_fill(~pos, off)
            n_in = x / tn + torch.zeros_like(x).masked_fill(~neg, off)
        else:
            p_in = (-x / tp).masked_fill(~pos, off)
            n_in = (x / tn).masked_fill(~neg, off)
        if mask == "exact":
            # Lines with an empty negative set: logsumexp = -inf, term 0. Keep autograd away from them.
            has_n = neg.any(dim=dim)
            n_in = torch.where(has_n.unsqueeze(dim).expand_as(x), n_in, torch.zeros_like(x))
            lse_n = torch.logsumexp(n_in, dim=dim) * tn
            term = softplus(lse_n + torch.logsumexp(p_in, dim=dim) * tp)
            term = torch.where(has_n, term, torch.zeros_like(term))
        else:
            term = softplus(torch.logsumexp(n_in, dim=dim) * tn + torch.logsumexp(p_in, dim=dim) * tp)
        total = total + term[keep].mean()
    return total


def softmax_loss(x, y, way):
    pos, lab = y > 0, y >= 0
    total = x.new_zeros(())
    for dim in {"class": [0], "sample": [1], "both": [0, 1]}[way]:
        keep = pos.any(dim=dim)
        if not keep.any():
            continue
        logp = torch.log_softmax(x.masked_fill(~lab, float("-inf")), dim=dim)
        per_line = -(logp.masked_fill(~pos, 0.0)).sum(dim=dim) / pos.sum(dim=dim).clamp(min=1)
        total = total + per_line[keep].mean()
    return total


def reduce(terms, y, reduction):
    lab = y >= 0
    s = terms.masked_fill(~lab, 0.0).sum()
    if reduction == "sum_mean":
        return s / y.shape[0]
    if reduction == "mean":
        return s / max(int(lab.sum()), 1)
    return s


def bce(x, y, reduction):
    t = (y > 0).double()
    return reduce(torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none"), y, reduction)


def focal(x, y, gamma, alpha, reduction):
    t = (y > 0).double()
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    terms = ce * (1 - p_t) ** gamma
    if alpha is not None:
        terms = (alpha * t + (1 - alpha) * (1 - t)) * terms
    return reduce(terms, y, reduction)


def asl(x, y, gamma_neg, gamma_pos, clip, eps, focus_grad, reduction):
    t = (y > 0).double()
    xs_pos = torch.sigmoid(x)
    xs_neg = 1 - xs_pos
    if clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    los = t * torch.log(xs_pos.clamp(min=eps)) + (1 - t) * torch.log(xs_neg.clamp(min=eps))
    if gamma_neg > 0 or gamma_pos > 0:
        with torch.set_grad_enabled(focus_grad):
            pt = xs_pos * t + xs_neg * (1 - t)
            w = torch.pow(1 - pt, gamma_pos * t + gamma_neg * (1 - t))
        los = los * w
    return reduce(-los, y, reduction)


def loss_fn(case):
    p = case["params"]
    name = case["loss"]
    if name == "twoway":
        return lambda x, y: two_way(x, y, p.get("tp", 4.0), p.get("tn", 1.0), p.get("way", "both"), p.get("mask", "exact"))
    if name == "softmax":
        return lambda x, y: softmax_loss(x, y, p.get("way", "sample"))
    red = p.get("reduction", "sum_mean")
    if name == "bce":
        return lambda x, y: bce(x, y, red)
    if name == "focal":
        return lambda x, y: focal(x, y, p.get("gamma", 2.0), p.get("alpha"), red)
    return lambda x, y: asl(x, y, p.get("gamma_neg", 4.0), p.get("gamma_pos", 0.0), p.get("clip", 0.05), p.get("eps", 1e-8),
                            p.get("focus_grad", False), red)


def ap_index(scores, targets):
    keep = targets >= 0
    s, t = scores[keep], targets[keep]
    if not (t > 0).any():
        return None
    order = np.argsort(-s, kind="stable")
    hits = np.cumsum(t[order] > 0)
    ranks = np.arange(1, len(order) + 1)
    return float(np.sum((hits / ranks)[t[order] > 0]) / np.sum(t > 0))


def ap_grouped(scores, targets):
    keep = targets >= 0
    s, t = scores[keep], targets[keep]
    if not (t > 0).any():
        return None
    return float(average_precision_score(t > 0, s))


def map_of(scores, targets, ties):
    ap = ap_grouped if ties == "grouped" else ap_index
    cls = [ap(scores[:, j], targets[:, j]) for j in range(scores.shape[1])]
    smp = [ap(scores[i], targets[i]) for i in range(scores.shape[0])]
    mean = lambda v: None if not [a for a in v if a is not None] else 100 * float(np.mean([a for a in v if a is not None]))
    return {"map_class": mean(cls), "map_sample": mean(smp)}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20230618)
    cases = []

    def batch(r, c, scale, pos, unk):
        x = rng.uniform(-scale, scale, size=(r, c))
        u = rng.uniform(size=(r, c))
        y = np.where(u < pos, 1.0, np.where(u < pos + unk, -1.0, 0.0))
        return x, y

    configs = []
    for way in ["both", "class", "sample"]:
        for mask in ["exact", "official"]:
            configs.append(("twoway", {"way": way, "mask": mask}))
        configs.append(("softmax", {"way": way}))
    configs += [("twoway", {"tp": 2.5, "tn": 0.5, "way": "both", "mask": "official"}),
                ("twoway", {"tp": 0.3, "tn": 7.0, "way": "both", "mask": "exact"})]
    for red in ["sum_mean", "mean", "sum"]:
        configs += [("bce", {"reduction": red}), ("focal", {"reduction": red}), ("asl", {"reduction": red})]
    configs += [("focal", {"gamma": 1.5, "alpha": 0.25}), ("asl", {"gamma_pos": 1.0, "focus_grad": True}),
                ("asl", {"clip": 0.0, "gamma_neg": 2.0})]
    shapes = [(16, 24, 3.0, 0.2, 0.1), (7, 5, 12.0, 0.3, 0.2), (32, 9, 1.0, 0.05, 0.0), (3, 40, 30.0, 0.1, 0.3)]
    for k, (loss, params) in enumerate(configs):
        r, c, scale, pos, unk = shapes[k % len(shapes)]
        x, y = batch(r, c, scale, pos, unk)
        name = f"{k:02d}_{loss}_" + "_".join(f"{a}-{b}" for a, b in params.items())
        xt = torch.tensor(x, requires_grad=True)
        value = loss_fn({"loss": loss, "params": params})(xt, torch.tensor(y))
        value.backward()
        value = value.detach()
        np.save(os.path.join(OUT, f"{name}.logits.npy"), x.astype(np.float64))
        np.save(os.path.join(OUT, f"{name}.targets.npy"), y.astype(np.int8))
        np.save(os.path.join(OUT, f"{name}.grad.npy"), xt.grad.numpy())
        cases.append({"name": name, "kind": "loss", "loss": loss, "params": params, "value": value.item()})

    for k, (r, c, ties, quant) in enumerate([(60, 12, "grouped", None), (60, 12, "index", None), (50, 8, "grouped", 4),
                                             (50, 8, "index", 4), (9, 31, "grouped", 2)]):
        s = rng.normal(size=(r, c))
        if quant:
            s = np.round(s * quant) / quant  # many ties
        u = rng.uniform(size=(r, c))
        y = np.where(u < 0.25, 1.0, np.where(u < 0.35, -1.0, 0.0))
        name = f"map_{k}_{ties}"
        np.save(os.path.join(OUT, f"{name}.scores.npy"), s.astype(np.float32 if k == 4 else np.float64))
        np.save(os.path.join(OUT, f"{name}.targets.npy"), y.astype(np.float64))
        s64 = s.astype(np.float32).astype(np.float64) if k == 4 else s
        cases.append({"name": name, "kind": "map", "ties": ties, **map_of(s64, y, ties)})

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"generator": "tools/oracle.py", "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
