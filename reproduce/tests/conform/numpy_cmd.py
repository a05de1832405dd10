"""A numpy implementation of every loss of the spec (value and analytic gradient) and of both metrics,
called the language-agnostic way: `twoway conform --cmd "python numpy_cmd.py [DEFECT]"` appends the case
folder; this reads cases.json and each case's .npy inputs and writes NAME.loss.npy and NAME.grad.npy (or
NAME.value.npy). Written for twoway's tests; DEFECT (optional) seeds one: `unknowns_as_negatives`."""

import json
import os
import sys

import numpy as np

from metrics_np import map_class, map_sample

DEFECT = sys.argv[1] if len(sys.argv) > 2 else None


def softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def twoway_line(x, y, tp, tn, mask):
    """Loss and gradient of one line with a positive."""
    pos, neg = y == 1, y == 0
    if mask == "official":
        vn = x / tn + np.where(neg, 0.0, -100.0)
        vp = -x / tp + np.where(pos, 0.0, -100.0)
    else:
        if not neg.any():
            return 0.0, np.zeros_like(x)
        vn = np.where(neg, x / tn, -np.inf)
        vp = np.where(pos, -x / tp, -np.inf)
    en, ep = np.exp(vn - vn.max()), np.exp(vp - vp.max())
    z = tn * (vn.max() + np.log(en.sum())) + tp * (vp.max() + np.log(ep.sum()))
    s = sigmoid(z)
    return softplus(z), s * en / en.sum() - s * ep / ep.sum()


def softmax_line(x, y):
    pos, labelled = y == 1, y >= 0
    m = x[labelled].max()
    e = np.where(labelled, np.exp(x - m), 0.0)
    total = e.sum()
    value = m + np.log(total) - x[pos].mean()
    return value, e / total - pos / pos.sum()


def ways(line, x, y, way):
    value, grad = 0.0, np.zeros_like(x)
    for transpose in ([False] if way == "sample" else [True] if way == "class" else [False, True]):
        a, b = (x.T, y.T) if transpose else (x, y)
        g = np.zeros_like(a)
        lines = [i for i in range(a.shape[0]) if (b[i] == 1).any()]
        for i in lines:
            l, gi = line(a[i], b[i])
            value += l / len(lines)
            g[i] = gi / len(lines)
        grad += g.T if transpose else g
    return value, grad


def reduce(entries, grads, y, reduction):
    labelled = y >= 0
    entries, grads = np.where(labelled, entries, 0.0), np.where(labelled, grads, 0.0)
    denominator = {"sum_mean": y.shape[0], "mean": max(int(labelled.sum()), 1), "sum": 1}[reduction]
    return entries.sum() / denominator, grads / denominator


def focal(x, y, p):
    pos = y == 1
    sign = np.where(pos, 1.0, -1.0)
    s = sign * x
    q, one_minus_q, log_q = sigmoid(s), sigmoid(-s), -softplus(-s)
    focus = one_minus_q ** p["gamma"]
    w = np.ones_like(x) if p["alpha"] is None else np.where(pos, p["alpha"], 1.0 - p["alpha"])
    entries = -w * focus * log_q
    grads = sign * w * focus * (p["gamma"] * q * log_q - one_minus_q)
    return reduce(entries, grads, y, p["reduction"])


def asl(x, y, p):
    pos = y == 1
    prob, q = sigmoid(x), sigmoid(-x)
    dp = prob * q
    shifted = q + p["clip"]
    base = np.where(pos, prob, np.minimum(shifted, 1.0))
    one_minus = np.where(pos, q, np.where(shifted <= 1.0, prob - p["clip"], 0.0))
    dbase = np.where(pos, dp, np.where(shifted <= 1.0, -dp, 0.0))
    gamma = np.where(pos, p["gamma_pos"], p["gamma_neg"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_base = np.where(base >= 0.5, np.log1p(-one_minus), np.log(base))
        log = np.where(base >= p["eps"], ln_base, np.log(p["eps"]))
        dlog = np.where(base >= p["eps"], dbase / base, 0.0)
        w = one_minus ** gamma
        dw = np.where((gamma > 0) & (one_minus > 0), -gamma * one_minus ** (gamma - 1.0) * dbase, 0.0)
    if not p["focus_grad"]:
        dw = np.zeros_like(x)
    return reduce(-w * log, -(dw * log + w * dlog), y, p["reduction"])


def loss(x, y, p):
    if DEFECT == "unknowns_as_negatives":
        y = np.where(y < 0, 0.0, y)
    name = p["loss"]
    if name == "twoway":
        return ways(lambda a, b: twoway_line(a, b, p["tp"], p["tn"], p["mask"]), x, y, p["way"])
    if name == "softmax":
        return ways(softmax_line, x, y, p["way"])
    if name == "bce":
        pos = y == 1
        return reduce(np.where(pos, softplus(-x), softplus(x)), np.where(pos, -sigmoid(-x), sigmoid(x)), y, p["reduction"])
    if name == "focal":
        return focal(x, y, p)
    return asl(x, y, p)


def main():
    folder = sys.argv[-1]
    with open(os.path.join(folder, "cases.json")) as f:
        cases = json.load(f)
    for case in cases:
        name, p = case["name"], case["params"]
        at = lambda suffix: os.path.join(folder, name + suffix)
        y = np.load(at(".targets.npy"))
        if "metric" in p:
            s = np.load(at(".scores.npy"))
            fn = map_class if p["metric"] == "map_class" else map_sample
            np.save(at(".value.npy"), np.array(fn(s, y, p["ties"])))
            continue
        value, grad = loss(np.load(at(".logits.npy")), y, p)
        np.save(at(".loss.npy"), np.array(value, dtype=np.float64))
        np.save(at(".grad.npy"), grad)


if __name__ == "__main__":
    main()
