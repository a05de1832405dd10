#!/usr/bin/env python3
"""Writes the spec's test vectors (spec/vectors/*.yaml) from closed forms.

Every expected number below is a closed-form expression written out by hand for its case (softplus,
sigmoid, logs of small sums, hand-ranked precisions), evaluated with mpmath at 50 digits. Nothing here
implements a loss over a matrix: each case states its own formula, and the YAML carries that derivation.

    .venv/bin/python tools/closed_forms.py        # rewrites spec/vectors/
"""
import os
import sys

import mpmath as mp

mp.mp.dps = 50
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "vectors")


def sp(z):
    """softplus"""
    return mp.log(1 + mp.e ** mp.mpf(z))


def sg(z):
    """sigmoid"""
    return 1 / (1 + mp.e ** (-mp.mpf(z)))


def e(z):
    return mp.e ** mp.mpf(z)


def fmt(v):
    v = mp.mpf(v)
    if v == 0:
        return "0.0"
    return mp.nstr(v, 17, min_fixed=-4, max_fixed=6, strip_zeros=False) if abs(v) >= 1e-4 else mp.nstr(v, 17)


def mat(rows):
    return "[" + ", ".join("[" + ", ".join(fmt(x) if not isinstance(x, str) else x for x in r) + "]" for r in rows) + "]"


def inp(rows):
    """Inputs as the shortest float literal that round-trips."""
    return "[" + ", ".join("[" + ", ".join(repr(float(x)) for x in r) + "]" for r in rows) + "]"


def lab(rows):
    return "[" + ", ".join("[" + ", ".join(str(int(x)) for x in r) + "]" for r in rows) + "]"


def loss_vector(name, loss, params, logits, targets, derivation, value, grad):
    p = ", ".join(f"{k}: {v}" for k, v in params.items())
    name = name if name.startswith(loss) else f"{loss}_{name}"
    out = [f"  - name: {name}", f"    loss: {loss}", f"    params: {{{p}}}"]
    out.append(f"    logits: {inp(logits)}")
    out.append(f"    targets: {lab(targets)}")
    out.append("    derivation: >-")
    for line in derivation.strip().splitlines():
        out.append("      " + line.strip())
    out.append(f"    value: {fmt(value)}")
    out.append(f"    grad: {mat(grad)}")
    return "\n".join(out)


def twoway_vectors():
    v = []
    # 1, 2: one positive and one negative.
    for name, tp, tn in [("one_pos_one_neg", 4.0, 1.0), ("one_pos_one_neg_other_temperatures", 0.25, 3.0)]:
        s = sg(0.9)
        v.append(loss_vector(name, "twoway", {"tp": tp, "tn": tn, "way": "sample"}, [[0.3, 1.2]], [[1, 0]],
            """P = {x_p = 0.3}, N = {x_n = 1.2}. A logsumexp over one element is that element, so
            Tn*lse(x_n/Tn) = x_n and Tp*lse(-x_p/Tp) = -x_p for any temperature:
            l = softplus(x_n - x_p) = softplus(0.9); dl/dx_n = sigmoid(0.9) = -dl/dx_p.""",
            sp(0.9), [[-s, s]]))
    # 3: one positive, Tn = 1 -> softmax cross-entropy over {p} u N.
    x = [2.0, 0.5, -1.0, 0.1]
    Z = sum(e(t) for t in x)
    q = [e(t) / Z for t in x]
    v.append(loss_vector("one_pos_is_softmax_cross_entropy", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample"}, [x], [[1, 0, 0, 0]],
        """P = {x_0 = 2}: Tp*lse(-x_p/Tp) = -x_p for any Tp; with Tn = 1,
        l = softplus(lse_N(x) - x_p) = ln(1 + sum_n e^(x_n - x_p)) = -ln softmax(x)_0 over all four entries
        = ln(e^2 + e^0.5 + e^-1 + e^0.1) - 2. Gradient: softmax(x)_k for the negatives, softmax(x)_0 - 1 for
        the positive (sigmoid(z) = 1 - softmax(x)_0).""",
        mp.log(Z) - 2, [[q[0] - 1, q[1], q[2], q[3]]]))
    # 4: low temperature limit.
    s = sg(1.5)
    v.append(loss_vector("low_temperature_limit", "twoway", {"tp": 0.001, "tn": 0.001, "way": "sample"}, [[1.0, 3.0, 2.5, 0.0]], [[1, 1, 0, 0]],
        """As T -> 0, Tn*lse(x_N/Tn) -> max_n x_n = 2.5 and Tp*lse(-x_P/Tp) -> -min_p x_p = -1; at T = 1e-3 the
        remainders are T*ln(1 + e^(-2500)) and T*ln(1 + e^(-2000)), far below double precision.
        l = softplus(2.5 - 1) = softplus(1.5); the gradient goes to the hardest pair only:
        -sigmoid(1.5) at x_0 (min positive), +sigmoid(1.5) at x_2 (max negative), 0 elsewhere.""",
        sp(1.5), [[-s, 0.0, s, 0.0]]))
    # 5: empty ways.
    for mask in ["exact", "official"]:
        v.append(loss_vector(f"no_positive_anywhere_{mask}", "twoway", {"tp": 4.0, "tn": 1.0, "way": "both", "mask": mask},
            [[0.5, -0.2], [1.0, 0.3]], [[0, 0], [0, 0]],
            """No row and no column has a positive, so both ways are empty. The spec defines an empty way as
            0 with gradient 0 (the release returns NaN here).""",
            0, [[0.0, 0.0], [0.0, 0.0]]))
    # 6: unknown labels.
    s = sg(0.9)
    v.append(loss_vector("unknown_label_ignored", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample"}, [[0.3, 1.2, 5.0]], [[1, 0, -1]],
        """The unknown entry (x = 5) is in neither set, so this is one_pos_one_neg: softplus(0.9), and the
        unknown entry's gradient is 0.""",
        sp(0.9), [[-s, s, 0.0]]))
    # 7, 8, 9: the 2x2 diagonal case in every way.
    a, b, c, d = 0.8, -0.4, 0.1, 1.5
    X = [[a, b], [c, d]]
    Y = [[1, 0], [0, 1]]
    sm = (sp(b - a) + sp(c - d)) / 2
    cl = (sp(c - a) + sp(b - d)) / 2
    g_s = [[-sg(b - a) / 2, sg(b - a) / 2], [sg(c - d) / 2, -sg(c - d) / 2]]
    g_c = [[-sg(c - a) / 2, sg(b - d) / 2], [sg(c - a) / 2, -sg(b - d) / 2]]
    base = """x = [[a, b], [c, d]] = [[0.8, -0.4], [0.1, 1.5]], targets [[1, 0], [0, 1]]: every row and every
        column holds one positive and one negative, so each term is softplus(x_n - x_p).
        Sample way: rows (b - a) and (c - d); class way: columns (c - a) and (b - d); each way is the mean of
        its two terms, and d softplus(x_n - x_p) = sigmoid(x_n - x_p) (dx_n - dx_p), halved by the mean."""
    v.append(loss_vector("diagonal_2x2_sample", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample"}, X, Y, base + "\nValue: (softplus(-1.2) + softplus(-1.4)) / 2.", sm, g_s))
    v.append(loss_vector("diagonal_2x2_class", "twoway", {"tp": 4.0, "tn": 1.0, "way": "class"}, X, Y, base + "\nValue: (softplus(-0.7) + softplus(-1.9)) / 2.", cl, g_c))
    v.append(loss_vector("diagonal_2x2_both", "twoway", {"tp": 4.0, "tn": 1.0, "way": "both"}, X, Y,
        base + "\nBoth = class-way mean + sample-way mean (a sum, not an average); gradients add.",
        sm + cl, [[g_s[i][j] + g_c[i][j] for j in range(2)] for i in range(2)]))
    # 10: an empty negative set (exact).
    s1 = sg(-1.0)
    v.append(loss_vector("empty_negative_set_exact", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample", "mask": "exact"},
        [[1.0, 2.0], [0.5, -0.5]], [[1, 1], [1, 0]],
        """Row 0 has positives but N is empty: lse over an empty set is -inf, so z = -inf and its term is
        softplus(-inf) = 0 with zero gradient; it still counts among the rows with a positive (2 rows).
        Row 1: softplus(-0.5 - 0.5) = softplus(-1). Value softplus(-1) / 2; gradient of row 1
        (-sigmoid(-1), +sigmoid(-1)) / 2.""",
        sp(-1) / 2, [[0.0, 0.0], [-s1 / 2, s1 / 2]]))
    # 11: the same in the release's masking.
    tp, tn = mp.mpf(4), mp.mpf(1)
    # row 0: N = {} -> every entry excluded in the negative term; P = {1, 2}.
    zn0 = tn * mp.log(e(1 / tn - 100) + e(2 / tn - 100))
    zp0 = tp * mp.log(e(-1 / tp) + e(-2 / tp))
    z0 = zn0 + zp0
    # row 1: N = {-0.5} with 0.5 excluded; P = {0.5} with -0.5 excluded.
    zn1 = tn * mp.log(e(-0.5 / tn) + e(0.5 / tn - 100))
    zp1 = tp * mp.log(e(-0.5 / tp) + e(0.5 / tp - 100))
    z1 = zn1 + zp1

    def w(terms):
        tot = sum(terms)
        return [t / tot for t in terms]
    # d z / d x_k = wN_k - wP_k (each logsumexp's softmax weights; T cancels), times sigmoid(z) / 2.
    wn0, wp0 = w([e(1 / tn - 100), e(2 / tn - 100)]), w([e(-1 / tp), e(-2 / tp)])
    wn1, wp1 = w([e(0.5 / tn - 100), e(-0.5 / tn)]), w([e(-0.5 / tp), e(0.5 / tp - 100)])
    g0 = [sg(z0) / 2 * (wn0[k] - wp0[k]) for k in range(2)]
    g1 = [sg(z1) / 2 * (wn1[k] - wp1[k]) for k in range(2)]
    v.append(loss_vector("empty_negative_set_official", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample", "mask": "official"},
        [[1.0, 2.0], [0.5, -0.5]], [[1, 1], [1, 0]],
        """The release adds -100 (after division by T) to excluded entries instead of -inf, so every entry
        enters both logsumexps. Row 0: z0 = ln(e^(1-100) + e^(2-100)) + 4 ln(e^(-1/4) + e^(-2/4)) (about -96.1),
        term softplus(z0) about e^z0. Row 1: z1 = ln(e^-0.5 + e^(0.5-100)) + 4 ln(e^(-0.5/4) + e^(0.5/4-100)).
        Value (softplus(z0) + softplus(z1)) / 2; dz/dx_k = wN_k - wP_k, the softmax weights of the two
        logsumexps' terms (the temperatures cancel), times sigmoid(z) / 2.""",
        (sp(z0) + sp(z1)) / 2, [g0, g1]))
    # 12: two positives and two negatives, T = 1.
    zz = mp.log(e(-1) + e(2)) + mp.log(e(0) + e(-1))
    s = sg(zz)
    wn = [e(-1) / (e(-1) + e(2)), e(2) / (e(-1) + e(2))]
    wp = [e(0) / (e(0) + e(-1)), e(-1) / (e(0) + e(-1))]
    v.append(loss_vector("two_pos_two_neg_unit_temperatures", "twoway", {"tp": 1.0, "tn": 1.0, "way": "sample"},
        [[0.0, 1.0, -1.0, 2.0]], [[1, 1, 0, 0]],
        """P = {0, 1}, N = {-1, 2}, Tp = Tn = 1: z = ln(e^-1 + e^2) + ln(e^-0 + e^-1), l = softplus(z)
        = ln(1 + (e^-1 + e^2)(1 + e^-1)). Gradient sigmoid(z) * (-e^-x_p / sum_P e^-x) on the positives and
        sigmoid(z) * (e^x_n / sum_N e^x) on the negatives.""",
        sp(zz), [[-s * wp[0], -s * wp[1], s * wn[0], s * wn[1]]]))
    return v


def sharper_twoway_vectors():
    """Larger batches with unknown labels and lines without a positive, softplus far in both tails, and the
    release's masking where it differs from set semantics with both sets non-empty."""
    v = []
    # A 6 x 5 batch. Every labelled line has at most two entries per set, so each term is written out below
    # from the sets read off the targets (listed by hand, then checked against the targets).
    X = [[0.7, -0.2, 3.0, -4.0, 9.0],
         [0.4, 5.0, -0.3, 2.0, 1.1],
         [8.0, -7.0, 6.0, -6.0, 0.0],
         [-0.9, 1.3, -2.0, 0.6, 4.0],
         [2.0, 0.2, -1.5, 7.0, -3.0],
         [1.0, -1.0, 0.5, 0.9, -2.5]]
    Y = [[1, 0, -1, -1, -1],
         [0, -1, 1, -1, 0],
         [-1, -1, -1, -1, -1],
         [0, 0, -1, 0, -1],
         [-1, 1, 0, -1, -1],
         [-1, -1, -1, 1, -1]]
    # (line, P, N) as (row, col) lists. Rows 2 and 3 and column 4 hold no positive and are dropped; row 5
    # has P but an empty N (its term is softplus(-inf) = 0, and it counts).
    rows = [(0, [(0, 0)], [(0, 1)]), (1, [(1, 2)], [(1, 0), (1, 4)]), (4, [(4, 1)], [(4, 2)]), (5, [(5, 3)], [])]
    cols = [(0, [(0, 0)], [(1, 0), (3, 0)]), (1, [(4, 1)], [(0, 1), (3, 1)]), (2, [(1, 2)], [(4, 2)]), (3, [(5, 3)], [(3, 3)])]
    for r in range(6):
        for c in range(5):
            in_p = any((r, c) in line[1] for line in rows) or any((r, c) in line[1] for line in cols)
            in_n = any((r, c) in line[2] for line in rows) or any((r, c) in line[2] for line in cols)
            assert in_p == (Y[r][c] == 1) and in_n == (Y[r][c] == 0), (r, c)
    tp, tn = mp.mpf(4), mp.mpf(1)

    def way(lines, count):
        """Mean over the lines with a positive of softplus(Tn lse_N(x/Tn) + Tp lse_P(-x/Tp)); the gradient is
        sigmoid(z) / count times the softmax weights of N (+) and P (-) (each lse's derivative)."""
        total = mp.mpf(0)
        g = [[mp.mpf(0)] * 5 for _ in range(6)]
        for _, P, N in lines:
            if not N:
                continue  # softplus(-inf) = 0, gradient 0
            en = [e(mp.mpf(X[i][j]) / tn) for i, j in N]
            ep = [e(-mp.mpf(X[i][j]) / tp) for i, j in P]
            z = tn * mp.log(sum(en)) + tp * mp.log(sum(ep))
            total += sp(z)
            for (i, j), w in zip(N, en):
                g[i][j] += sg(z) / count * w / sum(en)
            for (i, j), w in zip(P, ep):
                g[i][j] -= sg(z) / count * w / sum(ep)
        return total / count, g
    vs, gs = way(rows, 4)
    vc, gc = way(cols, 4)
    base = """A 6 x 5 batch with unknown labels (they carry large logits, which must not matter). Rows 2 and 3 and
        column 4 have no positive and are dropped; row 5 has a positive but no negative: its term is
        softplus(-inf) = 0 and it counts. Each labelled line has at most two entries per set:
        rows 0: P {x00} N {x01}; 1: P {x12} N {x10, x14}; 4: P {x41} N {x42}; 5: P {x53} N {};
        columns 0: P {x00} N {x10, x30}; 1: P {x41} N {x01, x31}; 2: P {x12} N {x42}; 3: P {x53} N {x33}.
        With Tn = 1 a one-element N gives x_n, two give ln(e^a + e^b); a one-element P gives -x_p, so
        z = lse_N - x_p and each way is the mean of softplus(z) over its 4 lines; the gradient is
        sigmoid(z) / 4 times the softmax weight within N (+) and P (-)."""
    params = {"tp": 4.0, "tn": 1.0, "way": "class"}
    v.append(loss_vector("unknowns_and_empty_lines_6x5_class", "twoway", params, X, Y,
        base + "\nClass way: columns 0-3.", vc, gc))
    params = {"tp": 4.0, "tn": 1.0, "way": "both"}
    v.append(loss_vector("unknowns_and_empty_lines_6x5_both", "twoway", params, X, Y,
        base + "\nBoth: the class-way mean plus the sample-way mean (rows 0, 1, 4, 5); gradients add.",
        vs + vc, [[gs[i][j] + gc[i][j] for j in range(5)] for i in range(6)]))
    # Softplus far in both tails.
    v.append(loss_vector("softplus_tails", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample"},
        [[-10.0, 15.0], [20.0, -10.0]], [[1, 0], [1, 0]],
        """One positive and one negative per row: z = x_n - x_p, 25 in row 0 (softplus(25) = 25 + ln(1 + e^-25),
        past torch's softplus threshold of 20) and -30 in row 1 (softplus(-30) = ln(1 + e^-30), about 9.4e-14).
        Value (softplus(25) + softplus(-30)) / 2; gradients (-sigmoid(z), +sigmoid(z)) / 2 per row.""",
        (sp(25) + sp(-30)) / 2, [[-sg(25) / 2, sg(25) / 2], [-sg(-30) / 2, sg(-30) / 2]]))
    # The release's masking where |x| / T >= 100 with both sets non-empty: Tn = 0.01.
    xs = [[1.5, 0.5, -2.0]]
    ys = [[1, 0, -1]]
    tn_, tp_ = mp.mpf("0.01"), mp.mpf(4)
    z_exact = mp.mpf("0.5") - mp.mpf("1.5")
    v.append(loss_vector("tiny_tn_exact", "twoway", {"tp": 4.0, "tn": 0.01, "way": "sample", "mask": "exact"}, xs, ys,
        """Tn = 0.01, so x / Tn is 150 for the positive. With set semantics N = {0.5} and P = {1.5}: each lse is
        its single element, z = 0.5 - 1.5 = -1, value softplus(-1), gradient (-sigmoid(-1), +sigmoid(-1), 0).""",
        sp(z_exact), [[-sg(z_exact), sg(z_exact), 0.0]]))
    # Official: every entry enters both logsumexps, excluded ones with -100 after the division by T.
    en = [e(mp.mpf("1.5") / tn_ - 100), e(mp.mpf("0.5") / tn_), e(mp.mpf("-2.0") / tn_ - 100)]
    ep = [e(-mp.mpf("1.5") / tp_), e(-mp.mpf("0.5") / tp_ - 100), e(mp.mpf("2.0") / tp_ - 100)]
    z_off = tn_ * mp.log(sum(en)) + tp_ * mp.log(sum(ep))
    g_off = [sg(z_off) * (en[k] / sum(en) - ep[k] / sum(ep)) for k in range(3)]
    v.append(loss_vector("tiny_tn_official", "twoway", {"tp": 4.0, "tn": 0.01, "way": "sample", "mask": "official"}, xs, ys,
        """The same row with the release's -100 offsets: the excluded positive enters the negative logsumexp as
        1.5 / 0.01 - 100 = 50, equal to the negative's 0.5 / 0.01 = 50, so
        Tn lse_N = 0.01 ln(e^50 + e^50 + e^(-200 - 100)) = 0.5 + 0.01 ln 2 (plus a negligible term), while
        Tp lse_P = 4 ln(e^(-1.5/4) + e^(-0.5/4 - 100) + e^(2/4 - 100)) stays about -1.5: z = -1 + 0.01 ln 2
        + tiny terms, not -1. Gradient sigmoid(z) (wN_k - wP_k) with each lse's softmax weights.""",
        sp(z_off), [g_off]))
    return v


def sharper_elementwise_vectors():
    """Each baseline at large logits (+-40), where naive formulas lose every digit."""
    v = []
    X = [[40.0, -40.0], [-40.0, 40.0]]
    Y = [[1, 0], [1, 0]]
    # Row 0 right (positive 40, negative -40), row 1 wrong (positive -40, negative 40).
    right, wrong = sp(-40), sp(40)
    v.append(loss_vector("bce_at_40", "bce", {"reduction": "sum_mean"}, X, Y,
        """Terms softplus(-s) with s = x on positives and -x on negatives: s = 40 twice in row 0 (softplus(-40)
        = ln(1 + e^-40), about 4.2e-18) and s = -40 twice in row 1 (softplus(40) = 40 + ln(1 + e^-40)).
        Sum over classes, mean over the 2 rows. Gradients (sigmoid(x) - 1 on positives, sigmoid(x) on
        negatives) / 2: -sigmoid(-40)/2 and sigmoid(-40)/2 in row 0, -sigmoid(40)/2 and sigmoid(40)/2 in row 1.""",
        (2 * right + 2 * wrong) / 2, [[(sg(40) - 1) / 2, sg(-40) / 2], [(sg(-40) - 1) / 2, sg(40) / 2]]))
    # Focal, gamma 2: term (1 - p_t)^2 softplus(-s); d/ds = (1-p_t)^2 (2 p_t ln p_t - (1 - p_t)) with the sign of s.
    def focal_term(sv):
        pt = sg(sv)
        return (1 - pt) ** 2 * sp(-sv), (1 - pt) ** 2 * (2 * pt * (-sp(-sv)) - (1 - pt))
    t40, d40 = focal_term(40)
    tm40, dm40 = focal_term(-40)
    v.append(loss_vector("focal_at_40", "focal", {"gamma": 2.0}, X, Y,
        """gamma = 2, no alpha: term (1 - p_t)^2 (-ln p_t) = (1 - p_t)^2 softplus(-s), s = x (positives) or -x
        (negatives), p_t = sigmoid(s). Row 0 has s = 40 twice (p_t = 1 - 4.2e-18: the weight alone is 1.8e-35);
        row 1 s = -40 twice. Derivative in s: (1 - p_t)^2 (2 p_t ln p_t - (1 - p_t)); d/dx = that for
        positives and minus it for negatives; sum over classes, mean over the 2 rows (halved).""",
        (2 * t40 + 2 * tm40) / 2, [[d40 / 2, -d40 / 2], [dm40 / 2, -dm40 / 2]]))
    # ASL (gamma_neg 4, gamma_pos 0, clip 0.05, eps 1e-8), focusing weight held constant.
    eps = mp.mpf("1e-8")
    p_pos_right = sg(40)      # positive, x = 40
    p_neg_right = sg(-40)     # negative, x = -40: p below the clip, q = 1, term 0
    p_pos_wrong = sg(-40)     # positive, x = -40: p < eps, log clamped at ln eps, gradient 0
    p_neg_wrong = sg(40)      # negative, x = 40: q = 1 - p + 0.05, p_m = p - 0.05
    q = 1 - p_neg_wrong + mp.mpf("0.05")
    pm = p_neg_wrong - mp.mpf("0.05")
    value = -mp.log(p_pos_right) + 0 + (-mp.log(eps)) + (-(pm ** 4) * mp.log(q))
    g = [[-(1 - p_pos_right), 0.0], [0.0, pm ** 4 * p_neg_wrong * (1 - p_neg_wrong) / q]]
    v.append(loss_vector("asl_at_40", "asl", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05}, X, Y,
        """Row 0: the positive x = 40 gives -ln sigmoid(40) (about 4.2e-18), gradient -(1 - p); the negative
        x = -40 has p = 4.2e-18 below the clip: q = 1, term 0, gradient 0. Row 1: the positive x = -40 has
        p = 4.2e-18 < eps = 1e-8: -ln max(p, eps) = -ln 1e-8, and the clamp stops the gradient; the negative
        x = 40: q = 1 - p + 0.05 = 0.05 + e^-40-ish, p_m = p - 0.05: -p_m^4 ln q, gradient (weight held)
        p_m^4 p (1 - p) / q. Sum over classes, mean over the 2 rows (halved).""",
        value / 2, [[t / 2 for t in r] for r in g]))
    # ASL without clip: a lone negative in its tail, where p = sigmoid(-16) ~ 1.1e-7 must not be taken
    # from 1 - (1 - p) (which keeps only 9 of its digits).
    p = sg(-16)
    v.append(loss_vector("asl_without_clip_negative_tail", "asl", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.0}, [[-16.0]], [[0]],
        """clip = 0: q = 1 - p with p = sigmoid(-16) (about 1.1e-7), no clamp; the term is
        -p^4 ln(1 - p) = p^4 softplus(-16) (about 1.8e-35); with the focusing weight held constant the
        gradient is -p^4 d ln(1 - p)/dx = p^4 p = p^5. One entry, one row.""",
        p ** 4 * sp(-16), [[p ** 5]]))
    return v


def far_logit_vectors():
    """Logits beyond what a direct exp holds (e^88.7 overflows float32, e^709.8 float64), where only the
    stable forms of softplus and logsumexp survive, and a hard positive beyond a +-15 clamp. Returned per
    spec file: (twoway, softmax, elementwise)."""
    tw, sm, el = [], [], []
    # A hard positive at -20: z = Tn lse(x_N / Tn) + Tp lse(-x_P / Tp) = ln(e^12 + e^0) + 20.
    z = mp.log(e(12) + 1) + 20
    s = sg(z)
    w = [e(12) / (e(12) + 1), 1 / (e(12) + 1)]
    tw.append(loss_vector("hard_positive_at_minus_20", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample"},
        [[-20.0, 12.0, 0.0]], [[1, 0, 0]],
        """P = {x_0 = -20}, N = {12, 0}. Tp lse(-x_P/Tp) = 20 (one element); Tn lse(x_N/Tn) = ln(e^12 + 1), so
        z = 20 + ln(e^12 + 1) (about 32.000006) and l = softplus(z). Gradient sigmoid(z) times the negatives'
        softmax weights (e^12, 1) / (e^12 + 1), and -sigmoid(z) at the positive (about -1): a loss that clamps
        its logits at +-15 gives 27 and 0 there.""",
        sp(z), [[-s, s * w[0], s * w[1]]]))
    X, Y = [[-800.0, 800.0]], [[1, 0]]
    tw.append(loss_vector("far_logits_800", "twoway", {"tp": 4.0, "tn": 1.0, "way": "sample"}, X, Y,
        """P = {-800}, N = {800}: each logsumexp holds one element, so z = x_n - x_p = 1600 and
        l = softplus(1600) = 1600 + ln(1 + e^-1600); gradient (-sigmoid(1600), sigmoid(1600)). e^800 overflows
        float64 (and float32), so a direct ln(sum e^x) or ln(1 + e^z) gives inf.""",
        sp(1600), [[-sg(1600), sg(1600)]]))
    q = 1 / (1 + e(1600))
    sm.append(loss_vector("far_logits_800", "softmax", {"way": "sample"}, X, Y,
        """One positive (-800) and one negative (800): lse(x) - x_p = ln(e^-800 + e^800) + 800 = softplus(1600);
        gradient softmax(x) - onehot = (e^-1600 / (1 + e^-1600) - 1, 1 / (1 + e^-1600)). e^800 overflows
        float64, so a direct ln(sum e^x) gives inf.""",
        sp(1600), [[q - 1, 1 - q]]))
    el.append(loss_vector("bce_far_logits_800", "bce", {"reduction": "sum_mean"}, X, Y,
        """Terms softplus(-x) on the positive and softplus(x) on the negative: softplus(800) twice (800 +
        ln(1 + e^-800) each), one row. Gradients sigmoid(x) - 1 = -sigmoid(800) and sigmoid(800). A direct
        ln(1 + e^800) is inf in float64.""",
        2 * sp(800), [[sg(-800) - 1, sg(800)]]))
    pt = sg(-800)
    term = (1 - pt) ** 2 * sp(800)
    d = (1 - pt) ** 2 * (2 * pt * (-sp(800)) - (1 - pt))
    el.append(loss_vector("focal_far_logits_800", "focal", {"gamma": 2.0}, X, Y,
        """gamma = 2, no alpha: s = x on the positive and -x on the negative, so s = -800 for both: p_t =
        sigmoid(-800), term (1 - p_t)^2 softplus(800) each (about 800), one row. Derivative in s:
        (1 - p_t)^2 (2 p_t ln p_t - (1 - p_t)) (about -1); d/dx is that on the positive and minus it on the
        negative. A direct ln(1 + e^800) is inf in float64.""",
        2 * term, [[d, -d]]))
    return tw, sm, el


def softmax_vectors():
    v = []
    x = [2.0, 0.5, -1.0]
    Z = sum(e(t) for t in x)
    q = [e(t) / Z for t in x]
    v.append(loss_vector("single_positive_is_cross_entropy", "softmax", {"way": "sample"}, [x], [[1, 0, 0]],
        """One positive: the ordinary softmax cross-entropy, ln(e^2 + e^0.5 + e^-1) - 2; gradient softmax(x) -
        onehot.""", mp.log(Z) - 2, [[q[0] - 1, q[1], q[2]]]))
    x = [1.0, 2.0, 0.0]
    Z = sum(e(t) for t in x)
    q = [e(t) / Z for t in x]
    v.append(loss_vector("two_positives_average", "softmax", {"way": "sample"}, [x], [[1, 1, 0]],
        """Mean over the positives of -ln softmax(x)_p = lse(x) - (x_0 + x_1) / 2 = ln(e + e^2 + 1) - 1.5;
        gradient softmax(x) - [1/2, 1/2, 0].""", mp.log(Z) - 1.5, [[q[0] - 0.5, q[1] - 0.5, q[2]]]))
    qq = [e(1) / (e(1) + e(0)), e(0) / (e(1) + e(0))]
    v.append(loss_vector("unknown_excluded_from_the_softmax", "softmax", {"way": "sample"}, [[1.0, 0.0, 9.0]], [[1, 0, -1]],
        """The unknown entry is outside the softmax: ln(e^1 + e^0) - 1 = softplus(-1); gradient
        [softmax_0 - 1, softmax_1, 0] over the two labelled entries.""", sp(-1), [[qq[0] - 1, qq[1], 0.0]]))
    a, b, c, d = 0.8, -0.4, 0.1, 1.5
    v.append(loss_vector("diagonal_2x2_class", "softmax", {"way": "class"}, [[a, b], [c, d]], [[1, 0], [0, 1]],
        """Each column has one positive and one negative: ln(e^x_p + e^x_n) - x_p = softplus(x_n - x_p), so the
        class way equals the two-way loss's: (softplus(c - a) + softplus(b - d)) / 2 = (softplus(-0.7) +
        softplus(-1.9)) / 2.""",
        (sp(c - a) + sp(b - d)) / 2, [[-sg(c - a) / 2, sg(b - d) / 2], [sg(c - a) / 2, -sg(b - d) / 2]]))
    v.append(loss_vector("both_with_a_row_without_positive", "softmax", {"way": "both"}, [[0.5, 1.5], [2.0, -1.0]], [[1, 0], [0, 0]],
        """Sample way: only row 0 has a positive: softplus(1.5 - 0.5) = softplus(1). Class way: only column 0
        has a positive (0.5 against the negative 2.0): softplus(1.5). Both = softplus(1) + softplus(1.5).
        Gradient at [0,0]: -sigmoid(1) - sigmoid(1.5); [0,1]: sigmoid(1); [1,0]: sigmoid(1.5); [1,1]: 0.""",
        sp(1) + sp(1.5), [[-sg(1) - sg(1.5), sg(1)], [sg(1.5), 0.0]]))
    return v


def elementwise_vectors():
    v = []
    X = [[0.5, -1.0], [2.0, 0.0]]
    Y = [[1, 0], [-1, 1]]
    tot = sp(-0.5) + sp(-1.0) + sp(-0.0)
    g = [[sg(0.5) - 1, sg(-1.0)], [0.0, sg(0.0) - 1]]
    for red, den, why in [("sum_mean", 2, "2 rows"), ("mean", 3, "3 labelled entries"), ("sum", 1, "no division")]:
        v.append(loss_vector(f"bce_{red}", "bce", {"reduction": red}, X, Y,
            f"""Labelled entries: positive 0.5 -> softplus(-0.5), negative -1 -> softplus(-1), positive 0 ->
            softplus(0); the unknown entry contributes nothing. Reduction {red}: divide by {den} ({why}).
            Gradients: sigmoid(x) - 1 on positives, sigmoid(x) on negatives, same divisor.""",
            tot / den, [[t / den for t in r] for r in g]))
    # Focal.
    l2 = mp.log(2)
    v.append(loss_vector("focal_at_zero", "focal", {"gamma": 2.0}, [[0.0, 0.0]], [[1, 0]],
        """p = sigmoid(0) = 1/2 for both. Positive: -(1 - p)^2 ln p = (1/4) ln 2; negative: -p^2 ln(1 - p) =
        (1/4) ln 2. Sum over classes, one sample: (1/2) ln 2. d/dx: positive (1-p)^2 (2 p ln p - (1 - p)) =
        (1/4)(-ln 2 - 1/2); negative p^2 (p - 2 (1-p) ln(1-p)) = (1/4)(1/2 + ln 2).""",
        l2 / 2, [[(-l2 - mp.mpf(1) / 2) / 4, (mp.mpf(1) / 2 + l2) / 4]]))
    p1, p2 = sg(1.0), sg(-2.0)
    al = mp.mpf("0.25")
    lp = al * (1 - p1) ** 2 * (-mp.log(p1))
    ln_ = (1 - al) * p2 ** 2 * (-mp.log(1 - p2))
    gp = al * (1 - p1) ** 2 * (2 * p1 * mp.log(p1) - (1 - p1))
    gn = (1 - al) * p2 ** 2 * (p2 - 2 * (1 - p2) * mp.log(1 - p2))
    v.append(loss_vector("focal_with_alpha", "focal", {"gamma": 2.0, "alpha": 0.25}, [[1.0, -2.0]], [[1, 0]],
        """alpha = 0.25 weighs the positive, 0.75 the negative. Positive x = 1, p = sigmoid(1):
        0.25 (1 - p)^2 (-ln p), derivative 0.25 (1-p)^2 (2 p ln p - (1 - p)). Negative x = -2, p = sigmoid(-2):
        0.75 p^2 (-ln(1 - p)), derivative 0.75 p^2 (p - 2 (1 - p) ln(1 - p)).""",
        lp + ln_, [[gp, gn]]))
    v.append(loss_vector("focal_gamma_zero_is_bce", "focal", {"gamma": 0.0}, [[0.7, -0.3]], [[1, 0]],
        """gamma = 0 and no alpha: the focal loss is BCE, softplus(-0.7) + softplus(-0.3); gradient
        (sigmoid(0.7) - 1, sigmoid(-0.3)).""", sp(-0.7) + sp(-0.3), [[sg(0.7) - 1, sg(-0.3)]]))
    # ASL.
    pm = mp.mpf("0.45")
    v.append(loss_vector("asl_at_zero", "asl", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05}, [[0.0, 0.0]], [[1, 0]],
        """p = 1/2. Positive (gamma_pos = 0): -ln p = ln 2, gradient -(1 - p) = -1/2. Negative: q = 1 - p + 0.05
        = 0.55, p_m = 0.45: -0.45^4 ln 0.55; with the focusing weight held constant the gradient is
        -0.45^4 (dq/dx) / q = 0.45^4 (1/4) / 0.55.""",
        l2 - pm ** 4 * mp.log(mp.mpf("0.55")), [[-0.5, pm ** 4 * mp.mpf("0.25") / mp.mpf("0.55")]]))
    v.append(loss_vector("asl_negative_below_clip", "asl", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05}, [[-4.0]], [[0]],
        """p = sigmoid(-4) = 0.018 < clip: q = min(1 - p + 0.05, 1) = 1, so the term -p_m^4 ln 1 = 0 and the
        clamp stops the gradient: value 0, gradient 0.""", 0, [[0.0]]))
    p, pn = sg(0.5), sg(1.0)
    qn = 1 - pn + mp.mpf("0.05")
    pmn = pn - mp.mpf("0.05")
    lpos = -(1 - p) * mp.log(p)
    gpos = -(-p * (1 - p) * mp.log(p) + (1 - p) * (1 - p))
    lneg = -pmn ** 4 * mp.log(qn)
    gneg = -(4 * pmn ** 3 * pn * (1 - pn) * mp.log(qn) + pmn ** 4 * (-pn * (1 - pn)) / qn)
    v.append(loss_vector("asl_with_focus_gradient", "asl", {"gamma_neg": 4.0, "gamma_pos": 1.0, "clip": 0.05, "focus_grad": "true"},
        [[0.5, 1.0]], [[1, 0]],
        """focus_grad: the focusing weight is differentiated. Positive x = 0.5, p = sigmoid(0.5), gamma_pos = 1:
        l = -(1 - p) ln p, dl/dx = -(-p(1-p) ln p + (1-p)(1-p)). Negative x = 1, p = sigmoid(1),
        q = 1 - p + 0.05, p_m = p - 0.05, gamma_neg = 4: l = -p_m^4 ln q,
        dl/dx = -(4 p_m^3 p(1-p) ln q - p_m^4 p(1-p) / q).""",
        lpos + lneg, [[gpos, gneg]]))
    x0, x1 = 0.3, -0.6
    pa, pb = sg(x0), sg(x1)
    la = -mp.log(pa)
    lb = -(pb - mp.mpf("0.05")) ** 4 * mp.log(1 - pb + mp.mpf("0.05"))
    gb = (pb - mp.mpf("0.05")) ** 4 * pb * (1 - pb) / (1 - pb + mp.mpf("0.05"))
    v.append(loss_vector("asl_sum_reduction", "asl", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05, "reduction": "sum"},
        [[x0], [x1]], [[1], [0]],
        """ASL's authors' reduction: the sum over all entries. Positive x = 0.3: -ln sigmoid(0.3), gradient
        -(1 - p). Negative x = -0.6 (p = 0.354 > clip): -(p - 0.05)^4 ln(1 - p + 0.05), gradient with the weight
        held constant (p - 0.05)^4 p (1 - p) / (1 - p + 0.05).""",
        la + lb, [[-(1 - pa)], [gb]]))
    return v


def metric_vector(name, scores, targets, ties, derivation, expected, denominator=None):
    out = [f"  - name: {name}", f"    scores: {inp(scores)}", f"    targets: {lab(targets)}", f"    ties: {ties}"]
    if denominator:
        out.append(f"    denominator: {denominator}")
    out.append("    derivation: >-")
    for line in derivation.strip().splitlines():
        out.append("      " + line.strip())
    for k, val in expected.items():
        if isinstance(val, list):
            out.append(f"    {k}: [" + ", ".join("null" if t is None else fmt(t) for t in val) + "]")
        else:
            out.append(f"    {k}: {'null' if val is None else fmt(val)}")
    return "\n".join(out)


def metric_vectors():
    v = []
    ap = (1 + mp.mpf(2) / 3 + mp.mpf(3) / 5) / 3
    for ties in ["grouped", "index"]:
        v.append(metric_vector(f"hand_ranked_no_ties_{ties}", [[0.9, 0.8, 0.7, 0.6, 0.5]], [[1, 0, 1, 0, 1]], ties,
            """Ranks 1..5 with positives at 1, 3, 5: precisions 1/1, 2/3, 3/5; AP = (1 + 2/3 + 3/5) / 3. No ties, so
            both tie rules agree. Each column holds one entry: the three positive columns have AP 1, the two
            negative ones are skipped, so mAP@class = 100.""",
            {"per_sample": [100 * ap], "map_sample": 100 * ap, "map_class": 100}))
    v.append(metric_vector("release_denominator", [[0.9, 0.8, 0.7, 0.6, 0.5]], [[1, 0, 1, 0, 1]], "grouped",
        """As hand_ranked_no_ties, divided by (3 + 1e-8) instead of 3.""",
        {"map_sample": 100 * (1 + mp.mpf(2) / 3 + mp.mpf(3) / 5) / (3 + mp.mpf("1e-8"))}, denominator="release"))
    v.append(metric_vector("tie_between_a_positive_and_a_negative_grouped", [[0.9, 0.5, 0.5, 0.1]], [[0, 1, 0, 1]], "grouped",
        """Grouped: thresholds 0.9 (1 seen, 0 hits), 0.5 (3 seen, 1 hit), 0.1 (4 seen, 2 hits). The tied positive
        gets the precision after its whole group, 1/3; the last positive 2/4. AP = (1/3 + 1/2) / 2 = 5/12.""",
        {"map_sample": 100 * mp.mpf(5) / 12}))
    v.append(metric_vector("tie_between_a_positive_and_a_negative_index", [[0.9, 0.5, 0.5, 0.1]], [[0, 1, 0, 1]], "index",
        """Index: ties ranked by position, so the tied positive (index 1) is at rank 2 ahead of the negative:
        precisions 1/2 and 2/4; AP = 1/2.""", {"map_sample": 50}))
    v.append(metric_vector("all_scores_tied_grouped", [[0.3, 0.3, 0.3, 0.3]], [[1, 0, 0, 1]], "grouped",
        """One threshold holds all four entries (2 hits): each positive gets 2/4; AP = 1/2.""", {"map_sample": 50}))
    v.append(metric_vector("all_scores_tied_index", [[0.3, 0.3, 0.3, 0.3]], [[1, 0, 0, 1]], "index",
        """By position: positives at ranks 1 and 4: precisions 1/1 and 2/4; AP = 3/4.""", {"map_sample": 75}))
    v.append(metric_vector("unknown_dropped", [[0.9, 0.8, 0.7]], [[-1, 0, 1]], "grouped",
        """The unknown entry (0.9) is dropped; the positive (0.7) ranks second behind the negative: AP = 1/2.""",
        {"map_sample": 50}))
    v.append(metric_vector("no_positive_is_skipped", [[0.9, 0.8], [0.1, 0.7]], [[0, 0], [1, 0]], "grouped",
        """Row 0 has no positive and is skipped; row 1: the positive (0.1) ranks second: AP 1/2, so mAP@sample =
        50. Column 0: positive 0.1 behind negative 0.9: 1/2; column 1 has no positive and is skipped: mAP@class
        = 50.""",
        {"per_sample": [None, 50], "per_class": [50, None], "map_sample": 50, "map_class": 50}))
    ap_g = (1 + mp.mpf(2) / 4 + mp.mpf(3) / 5) / 3
    ap_i = (1 + 1 + mp.mpf(3) / 5) / 3
    v.append(metric_vector("signed_zeros_tie_grouped", [[0.0, -0.0, 0.5, 0.0, -0.2]], [[1, 0, 1, 0, 1]], "grouped",
        """0.0 and -0.0 are equal scores, so 0.0, -0.0, 0.0 form one tie. Grouped thresholds: 0.5 (1 seen, 1 hit),
        0 (4 seen, 2 hits), -0.2 (5 seen, 3 hits): AP = (1 + 2/4 + 3/5) / 3.""",
        {"map_sample": 100 * ap_g}))
    v.append(metric_vector("signed_zeros_tie_index", [[0.0, -0.0, 0.5, 0.0, -0.2]], [[1, 0, 1, 0, 1]], "index",
        """Index ties: 0.5 first, then the three zeros in position order (index 0 positive, 1 negative, 3
        negative), then -0.2: positives at ranks 1, 2 and 5: AP = (1 + 2/2 + 3/5) / 3.""",
        {"map_sample": 100 * ap_i}))
    v.append(metric_vector("matrix_3x3", [[0.9, 0.7, 0.4], [0.1, 0.8, 0.3], [0.5, 0.6, 0.7]], [[0, 1, -1], [1, 1, 0], [0, 0, 1]], "grouped",
        """Samples: row 0 labelled (0.9 neg, 0.7 pos): 1/2. Row 1: 0.8 pos (1/1), 0.3 neg, 0.1 pos (2/3): 5/6.
        Row 2: 0.7 pos first: 1. mAP@sample = 100 (1/2 + 5/6 + 1) / 3.
        Classes: column 0 (0.9 neg, 0.5 neg, 0.1 pos): 1/3. Column 1 (0.8 pos, 0.7 pos, 0.6 neg): 1.
        Column 2 (0.4 unknown dropped, 0.7 pos, 0.3 neg): 1. mAP@class = 100 (1/3 + 1 + 1) / 3.""",
        {"per_sample": [50, 100 * mp.mpf(5) / 6, 100], "per_class": [100 * mp.mpf(1) / 3, 100, 100],
         "map_sample": 100 * (mp.mpf(1) / 2 + mp.mpf(5) / 6 + 1) / 3, "map_class": 100 * (mp.mpf(1) / 3 + 2) / 3}))
    return v


HEADER = """# {title}
# Generated by tools/closed_forms.py from closed forms evaluated at 50 digits; each vector's `derivation`
# states the formula. Every implementation of twoway must reproduce `value` and `grad` (losses) or the
# listed metrics (0-100 scale) within the tolerance the suite states.
"""


def write(name, title, key, vectors):
    text = HEADER.format(title=title) + f"\n{key}:\n" + "\n\n".join(vectors) + "\n"
    path = os.path.join(ROOT, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({len(vectors)} vectors)", file=sys.stderr)


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    far_tw, far_sm, far_el = far_logit_vectors()
    write("twoway.yaml", "Test vectors of the two-way loss.", "losses", twoway_vectors() + sharper_twoway_vectors() + far_tw)
    write("softmax.yaml", "Test vectors of the multi-label softmax loss.", "losses", softmax_vectors() + far_sm)
    write("elementwise.yaml", "Test vectors of the element-wise baselines (BCE, focal, ASL).", "losses", elementwise_vectors() + sharper_elementwise_vectors() + far_el)
    write("metrics.yaml", "Test vectors of AP, mAP@class and mAP@sample.", "metrics", metric_vectors())
