#!/usr/bin/env python3
"""Writes spec/vectors/thresholded.yaml: test vectors of the thresholded metrics (CP, CR, CF1, OP, OR, OF1,
the per-class F1 mean) and of threshold tuning, as `spec/data/metrics.yaml` (`thresholded`) defines them.

The expected values are computed here from the definitions, independently of twoway's Rust code: the
predictions by brute force (every class of every sample), the counts in integers, the ratios as exact
fractions, and each tuned threshold by trying every distinct score as the lowest one kept. Each vector's
`derivation` lists the predictions and the counts it was computed from.

    python3 tools/thresholded_vectors.py            # rewrite the file
    python3 tools/thresholded_vectors.py --check    # exit 1 if the file differs from what this writes
"""

import math
import sys
from fractions import Fraction
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "spec" / "vectors" / "thresholded.yaml"


def cut_of(t, kind):
    """The score-scale cut of probability threshold t."""
    if kind == "probability":
        return t
    return 0.0 if t == 0.5 else math.log(t / (1 - t))


def counted(label, unknown):
    return label in (0, 1) or unknown == "negative"


def predict(scores, cuts, top_k):
    """For every sample, the set of predicted classes. `cuts`: one cut per class, or None (top-k alone)."""
    out = []
    for row in scores:
        classes = range(len(row))
        if top_k is not None:
            ranked = sorted(classes, key=lambda j: (-row[j], j))
            chosen = set(ranked[:top_k])
        else:
            chosen = set(classes)
        if cuts is not None:
            chosen = {j for j in chosen if row[j] >= cuts[j]}
        out.append(chosen)
    return out


def counts(scores, targets, predicted, unknown):
    cols = len(scores[0])
    tp, fp, fn = [0] * cols, [0] * cols, [0] * cols
    for i, row in enumerate(targets):
        for j, label in enumerate(row):
            if not counted(label, unknown):
                continue
            p, pos = j in predicted[i], label == 1
            tp[j] += p and pos
            fp[j] += p and not pos
            fn[j] += (not p) and pos
    return tp, fp, fn


def ratio(num, den, undefined):
    """A percentage as a Fraction; 'skip' -> None, 'nan' -> 'nan'."""
    if den > 0:
        return Fraction(100 * num, den)
    return {"zero": Fraction(0), "skip": None, "nan": "nan"}[undefined]


def mean(values):
    kept = [v for v in values if v is not None]
    if not kept:
        return None
    if any(v == "nan" for v in kept):
        return "nan"
    return sum(kept, Fraction(0)) / len(kept)


def harmonic(p, r):
    if p is None or r is None:
        return None
    if p == "nan" or r == "nan":
        return "nan"
    return Fraction(0) if p + r == 0 else 2 * p * r / (p + r)


def metrics(tp, fp, fn, undefined):
    evaluated = [j for j in range(len(tp)) if tp[j] + fn[j] > 0]
    cp = mean(ratio(tp[j], tp[j] + fp[j], undefined) for j in evaluated)
    cr = mean(ratio(tp[j], tp[j] + fn[j], undefined) for j in evaluated)
    f1 = mean(ratio(2 * tp[j], 2 * tp[j] + fp[j] + fn[j], undefined) for j in evaluated)
    stp, sfp, sfn = sum(tp), sum(fp), sum(fn)
    op = ratio(stp, stp + sfp, undefined)
    orr = Fraction(100 * stp, stp + sfn) if stp + sfn > 0 else None
    return {"cp": cp, "cr": cr, "cf1": harmonic(cp, cr), "op": op, "or": orr, "of1": harmonic(op, orr), "f1_mean": f1}


def tune(pairs, default):
    """The F1-maximising cut of (score, positive) pairs by trying every distinct score as the lowest kept."""
    positives = sum(1 for _, pos in pairs if pos)
    if positives == 0:
        return default
    best = None
    for kept in sorted({s for s, _ in pairs}, reverse=True):
        tp = sum(1 for s, pos in pairs if s >= kept and pos)
        fp = sum(1 for s, pos in pairs if s >= kept and not pos)
        f1 = Fraction(2 * tp, tp + fp + positives)
        if best is None or f1 > best[0]:  # ties keep the higher score
            best = (f1, kept)
    kept = best[1]
    lower = [s for s, _ in pairs if s < kept]
    if not lower:
        return kept
    mid = kept / 2 + max(lower) / 2
    return mid if max(lower) < mid <= kept else kept


def number(v):
    if v is None:
        return "null"
    if v == "nan":
        return ".nan"
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return f"{v.numerator}.0"
        return repr(float(v)) if len(repr(float(v))) < 20 else f"{float(v):.17g}"
    return repr(float(v))


def matrix(m):
    return "[" + ", ".join("[" + ", ".join(str(x) for x in row) + "]" for row in m) + "]"


def vector(name, scores, targets, *, threshold=None, top_k=None, score_kind="logit", unknown="exclude",
           undefined="zero", tune_by=None, tune_scores=None, tune_targets=None, why=""):
    cols = len(scores[0])
    lines = [f"  - name: {name}", f"    scores: {matrix(scores)}", f"    targets: {matrix(targets)}"]
    notes = []
    if tune_by is not None:
        default = cut_of(0.5, score_kind)
        if tune_by == "global":
            pairs = [(s, l == 1) for r, t in zip(tune_scores, tune_targets) for s, l in zip(r, t) if counted(l, unknown)]
            cuts = [tune(pairs, default)] * cols
        else:
            cuts = [tune([(r[j], t[j] == 1) for r, t in zip(tune_scores, tune_targets) if counted(t[j], unknown)],
                         default) for j in range(cols)]
        lines += [f"    tune: {tune_by}", f"    tune_scores: {matrix(tune_scores)}",
                  f"    tune_targets: {matrix(tune_targets)}"]
        notes.append("tuned cuts (score scale): " + ", ".join(repr(c) for c in cuts))
    elif threshold is not None or top_k is None:
        cuts = [cut_of(0.5 if threshold is None else threshold, score_kind)] * cols
    else:
        cuts = None
    if threshold is not None:
        lines.append(f"    threshold: {threshold}")
    if top_k is not None:
        lines.append(f"    top_k: {top_k}")
    for key, value, default in [("score_kind", score_kind, "logit"), ("unknown", unknown, "exclude"),
                                ("undefined", undefined, "zero")]:
        if value != default:
            lines.append(f"    {key}: {value}")
    predicted = predict(scores, cuts, top_k)
    tp, fp, fn = counts(scores, targets, predicted, unknown)
    m = metrics(tp, fp, fn, undefined)
    shown = "; ".join(f"row {i}: {{{', '.join(map(str, sorted(p)))}}}" for i, p in enumerate(predicted))
    notes.append(f"predicted {shown}")
    notes.append(f"TP {tp}, FP {fp}, FN {fn}")
    derivation = f"{why} " + ". ".join(n[0].upper() + n[1:] for n in notes) + "."
    lines.append("    derivation: >-")
    words, line = derivation.split(), "     "
    for w in words:
        if len(line) + 1 + len(w) > 110:
            lines.append(line)
            line = "     "
        line += " " + w
    lines.append(line)
    if tune_by is not None:
        lines.append(f"    cuts: [{', '.join(repr(c) for c in cuts)}]")
    lines += [f"    tp: {tp}", f"    fp: {fp}", f"    fn: {fn}"]
    lines += [f"    {k}: {number(v)}" for k, v in m.items()]
    return "\n".join(lines)


LOGITS = [[2.0, 0.0, -1.0, 0.5], [-0.5, 1.5, 0.25, -2.0], [1.0, -0.1, 3.0, 0.0]]
TARGETS = [[1, 0, -1, 1], [0, 1, 1, 0], [1, 1, -1, 0]]


def vectors():
    yield vector("threshold_half_on_logits", LOGITS, TARGETS, why=(
        "The default rule: sigmoid(logit) >= 0.5, that is logit >= 0; a logit of exactly 0 is predicted. The "
        "unknown entries (-1) count nowhere."))
    yield vector("unknown_as_negative", LOGITS, TARGETS, unknown="negative", why=(
        "As threshold_half_on_logits, with the unknown entries taken as negatives: the prediction on [2, 2] "
        "becomes a false positive."))
    yield vector("threshold_075_on_logits", LOGITS, TARGETS, threshold=0.75, why=(
        "t = 0.75: logit >= ln 3 = 1.0986..."))
    yield vector("probability_at_the_threshold", [[0.5, 0.49, 0.9], [0.2, 0.5, 0.51]], [[1, 1, 0], [0, 0, 1]],
                 score_kind="probability", why="Probabilities compared with t = 0.5 as they are; 0.5 is predicted.")
    yield vector("top2_tie_at_the_kth_place", [[0.3, 0.7, 0.3, 0.3], [1.0, 1.0, 1.0, -1.0]],
                 [[1, 0, 0, 1], [0, 0, 1, 1]], top_k=2, why=(
                     "Top 2, no threshold. Row 0: 0.7 (class 1), then three classes tied at 0.3: the first in "
                     "class order (class 0) is taken. Row 1: three tied at 1.0, classes 0 and 1 taken."))
    yield vector("top3_with_threshold", LOGITS, TARGETS, top_k=3, threshold=0.5, why=(
        "Top 3, each kept only if logit >= 0 too (the widely copied routine's top-3)."))
    yield vector("top_k_beyond_the_class_count", [[0.1, -0.2], [-3.0, 0.4]], [[1, 0], [0, 0]], top_k=5, why=(
        "k = 5 > 2 classes: every class is predicted."))
    yield vector("top1_lands_on_an_unknown", [[0.9, 0.1, 0.2], [0.1, 0.8, 0.3]], [[-1, 1, 0], [0, 1, 0]],
                 top_k=1, why=(
                     "Top 1 is chosen over every class: row 0's top class is unknown, so row 0 predicts nothing "
                     "that counts, and class 1's positive there is a false negative."))
    never = ([[1.0, -1.0, 0.5], [2.0, -0.5, -1.0], [0.5, -2.0, 1.0]], [[1, 1, 0], [0, 1, 1], [1, 0, 0]])
    for undefined in ["zero", "skip", "nan"]:
        yield vector(f"never_predicted_class_{undefined}", *never, undefined=undefined, why=(
            f"Class 1 has positives but no logit >= 0: its precision is 0 / 0, `{undefined}`. Its recall and "
            "F1 are 0."))
    yield vector("class_without_positive", [[1.0, 0.5, -1.0], [0.2, -0.3, 2.0]], [[1, 0, 0], [0, 1, 0]], why=(
        "Class 2 has no positive: it is left out of CP, CR and the F1 mean, but its false positive counts in "
        "OP."))
    nothing = ([[-1.0, -0.5], [-2.0, -0.1]], [[1, 0], [0, 1]])
    for undefined in ["zero", "skip", "nan"]:
        yield vector(f"nothing_predicted_{undefined}", *nothing, undefined=undefined, why=(
            f"No logit is >= 0: every precision and OP are 0 / 0, `{undefined}`; recalls are 0."))
    yield vector("all_unknown", [[1.0, -1.0], [0.5, 0.2]], [[-1, -1], [-1, -1]], why=(
        "Nothing counts: no class is evaluated, so CP, CR, CF1, the F1 mean, OR and OF1 are null; OP is 0 / 0."))
    yield vector("tuned_global_on_probabilities", [[0.9, 0.2, 0.6], [0.35, 0.8, 0.1], [0.7, 0.65, 0.3]],
                 [[1, 0, 1], [0, 1, 0], [1, 0, 0]], score_kind="probability", tune_by="global",
                 tune_scores=[[0.8, 0.3, 0.55], [0.4, 0.7, 0.2], [0.6, 0.5, 0.45]],
                 tune_targets=[[1, 0, 1], [0, 1, 0], [1, 1, 0]], why=(
                     "One threshold maximising OF1 over the tuning split's 9 entries, applied to the scores."))
    yield vector("tuned_global_halfway", [[0.9, 0.1], [0.5, 0.3]], [[1, 0], [0, 1]],
                 score_kind="probability", tune_by="global", tune_scores=[[0.9, 0.8], [0.7, 0.1]],
                 tune_targets=[[1, 0], [1, 0]], why=(
                     "Tuning split, 2 positives: keeping 0.9 gives F1 = 2 / 3, 0.8 gives 2 / 4, 0.7 gives "
                     "4 / 5, 0.1 gives 4 / 6. The best keeps 0.7; the cut lies halfway to the next lower score, "
                     "0.1."))
    yield vector("tuned_f1_tie_keeps_the_higher", [[0.95, 0.3, 0.8], [0.4, 0.6, 0.76]], [[1, 0, 1], [0, 1, 0]],
                 score_kind="probability", tune_by="global", tune_scores=[[0.9, 0.6, 0.5], [0.3, 0.2, 0.1]],
                 tune_targets=[[1, 0, 0], [1, 0, 0]], why=(
                     "Tuning split, 2 positives: keeping 0.9 gives F1 = 2 / 3; 0.6, 2 / 4; 0.5, 2 / 5; 0.3, "
                     "4 / 6 = 2 / 3 again. The tie goes to the higher threshold: halfway between 0.9 and 0.6."))
    yield vector("tuned_per_class_on_logits", LOGITS, TARGETS, tune_by="per_class",
                 tune_scores=[[1.5, -0.5, 0.2, 3.0], [0.5, 2.5, -1.0, -0.5], [-1.0, 0.5, 0.75, 1.0],
                              [2.0, -2.0, 1.25, 0.0]],
                 tune_targets=[[1, 0, 0, -1], [0, 1, 1, -1], [0, 1, 1, -1], [1, 0, 0, -1]], why=(
                     "Each class's cut maximises its F1 on the tuning split; class 3 has no known target there "
                     "and keeps the default cut (logit 0)."))


def main():
    text = (
        "# Test vectors of the thresholded metrics (CP, CR, CF1, OP, OR, OF1, the per-class F1 mean; 0-100 scale)\n"
        "# and of threshold tuning (`spec/data/metrics.yaml`, `thresholded`). Written by tools/thresholded_vectors.py,\n"
        "# which computes them from the definitions alone (brute-force predictions, integer counts, exact fractions);\n"
        "# each `derivation` lists the predictions and counts. `threshold` is a probability; `cuts` are the tuned\n"
        "# thresholds on the score scale; absent options take the spec's defaults (threshold 0.5 when there is no\n"
        "# `top_k`). `null`: nothing to average; `.nan`: NaN under `undefined: nan`.\n\n"
        "thresholded:\n" + "\n\n".join(vectors()) + "\n"
    )
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run python3 tools/thresholded_vectors.py", file=sys.stderr)
            sys.exit(1)
        return
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
