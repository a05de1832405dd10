"""twoway.metrics.thresholded and tune_thresholds: every vector of spec/vectors/thresholded.yaml, scikit-learn's
precision_recall_fscore_support where the conventions agree, `twoway metrics --format json`, and bad input."""

import json
import math
import os
import subprocess

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

import twoway
from twoway.metrics import thresholded, tune_thresholds

KEYS = ["cp", "cr", "cf1", "op", "or", "of1", "f1_mean"]


def same(a, b):
    if b is None:
        return math.isnan(a)
    if isinstance(b, float) and math.isnan(b):
        return math.isnan(a)
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


def test_every_thresholded_vector():
    vectors = twoway.spec.vectors()["thresholded.yaml"]["thresholded"]
    compared = 0
    for v in vectors:
        s, y = np.array(v["scores"]), np.array(v["targets"])
        kind, unknown = v.get("score_kind", "logit"), v.get("unknown", "exclude")
        kw = dict(score_kind=kind, unknown=unknown, undefined=v.get("undefined", "zero"))
        if "tune" in v:
            ts, ty = np.array(v["tune_scores"]), np.array(v["tune_targets"])
            per_class = v["tune"] == "per_class"
            c = tune_thresholds(ts, ty, per_class=per_class, scale="score", score_kind=kind, unknown=unknown)
            cuts = np.broadcast_to(np.atleast_1d(c), (s.shape[1],))
            assert list(cuts) == v["cuts"], v["name"]
            r = thresholded(s, y, thresholds=cuts, scale="score", **kw)
        else:
            r = thresholded(s, y, threshold=v.get("threshold"), top_k=v.get("top_k"), **kw)
        assert list(r.tp) == v["tp"] and list(r.fp) == v["fp"] and list(r.fn) == v["fn"], v["name"]
        for k in KEYS:
            assert same(r.as_dict()[k], v[k]), (v["name"], k, r.as_dict()[k], v[k])
            compared += 1
    assert len(vectors) >= 20 and compared == 7 * len(vectors)


def random_batch(rng, rows, cols, unknown=0.0):
    s = rng.normal(size=(rows, cols)).astype(np.float32)
    y = (rng.random((rows, cols)) < 0.3).astype(np.int8)
    y[rng.random((rows, cols)) < unknown] = -1
    for j in range(cols):  # every class has a positive and a predicted entry: sklearn's conventions agree
        y[j % rows, j] = 1
        s[(j + 1) % rows, j] = abs(s[(j + 1) % rows, j]) + 0.1
    return s, y


def top_k_predictions(s, k):
    """Each row's k first classes of a stable descending sort, as a 0/1 matrix."""
    order = np.argsort(-s.astype(np.float64), axis=1, kind="stable")[:, :k]
    pred = np.zeros(s.shape, dtype=int)
    np.put_along_axis(pred, order, 1, axis=1)
    return pred


def test_agrees_with_scikit_learn_where_the_conventions_agree():
    rng = np.random.default_rng(5)
    compared = 0
    for rows, cols in [(50, 4), (300, 12), (20, 20)]:
        s, y = random_batch(rng, rows, cols)
        s[::7, 1] = s[::7, 2]  # ties at the k-th place
        rules = [({"threshold": t}, (1 / (1 + np.exp(-s.astype(np.float64))) >= t).astype(int)) for t in [0.3, 0.5, 0.8]]
        rules += [({"top_k": k}, top_k_predictions(s, k)) for k in [1, 3]]
        for kw, pred in rules:
            r = thresholded(s, y, **kw)
            p, rc, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
            op, orr, of1, _ = precision_recall_fscore_support(y, pred, average="micro", zero_division=0)
            got = [r.cp, r.cr, r.f1_mean, r.op, r.or_, r.of1]
            for g, w in zip(got, [p, rc, f, op, orr, of1]):
                assert abs(g - 100 * w) < 1e-9, (rows, cols, kw, got, [p, rc, f, op, orr, of1])
                compared += 1
            assert abs(r.cf1 - 2 * r.cp * r.cr / (r.cp + r.cr)) < 1e-9
    assert compared == 3 * 5 * 6


def test_a_tuned_threshold_applied_on_the_score_scale_gives_its_tuning_f1():
    rng = np.random.default_rng(11)
    cases = [(np.array([[40.0, 39.0, 38.0, -5.0]]).T, np.array([[1, 1, 0, 0]]).T)]  # sigmoid(38.5) rounds to 1
    cases += [random_batch(rng, 200, 6) for _ in range(20)]
    for s, y in cases:
        c = tune_thresholds(s, y, scale="score")
        _, _, f1 = twoway._native.tune(s.astype(np.float64), y.astype(np.int8), False, "logit", "exclude")
        r = thresholded(s, y, threshold=c, scale="score")
        assert abs(r.of1 - f1[0]) < 1e-9, (c, r.of1, f1)
    assert thresholded(*cases[0], threshold=tune_thresholds(*cases[0], scale="score"), scale="score").of1 == 100.0


def test_comparisons_are_exact_in_float64():
    y = np.array([[1]], np.int8)
    f32 = thresholded(np.array([[0.7]], np.float32), y, threshold=0.7, score_kind="probability")
    f64 = thresholded(np.array([[0.7]], np.float64), y, threshold=0.7, score_kind="probability")
    assert (f32.tp[0], f64.tp[0]) == (0, 1)  # float32 0.7 is 0.699999988 < 0.7


def test_matches_twoway_metrics_json(tmp_path):
    rng = np.random.default_rng(9)
    s, y = random_batch(rng, 60, 7, unknown=0.1)
    ts, ty = random_batch(rng, 40, 7, unknown=0.1)
    files = {}
    for name, a in [("s", s), ("y", y), ("ts", ts), ("ty", ty)]:
        files[name] = str(tmp_path / f"{name}.npy")
        np.save(files[name], a)
    cases = [([], {}), (["--top-k", "3"], {"top_k": 3}), (["--top-k", "2", "--threshold", "0.4"], {"top_k": 2, "threshold": 0.4}),
             (["--unknown", "negative", "--threshold", "0.7"], {"unknown": "negative", "threshold": 0.7})]
    binary = os.environ["TWOWAY_BIN"]
    for flags, kw in cases:
        out = subprocess.run([binary, "metrics", "--scores", files["s"], "--targets", files["y"], "--format", "json", *flags],
                             check=True, capture_output=True, text=True).stdout
        cli = json.loads(out)
        r = thresholded(s, y, **kw).as_dict()
        for k in KEYS:
            assert r[k] == cli[k], (flags, k, r[k], cli[k])
    out = subprocess.run([binary, "metrics", "--scores", files["s"], "--targets", files["y"], "--format", "json",
                          "--tune-scores", files["ts"], "--tune-targets", files["ty"]], check=True, capture_output=True,
                         text=True).stdout
    assert json.loads(out)["threshold"] == tune_thresholds(ts, ty)


def test_bad_input_names_the_entry():
    s = np.zeros((3, 4), np.float32)
    y = np.zeros((3, 4), np.int8)
    y[1, 2] = 3
    with pytest.raises(ValueError, match=r"targets\[1, 2\] = 3"):
        thresholded(s, y)
    with pytest.raises(ValueError, match="top_k=0"):
        thresholded(s, np.zeros((3, 4)), top_k=0)
    with pytest.raises(ValueError, match="thresholds has 2 entries"):
        thresholded(s, np.zeros((3, 4)), thresholds=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"threshold=1.5"):
        thresholded(s, np.zeros((3, 4)), threshold=1.5)
    with pytest.raises(ValueError, match=r"scores\[0, 0\] = -1"):
        thresholded(s - 1, np.zeros((3, 4)), score_kind="probability")
    with pytest.raises(ValueError, match="undefined"):
        thresholded(s, np.zeros((3, 4)), undefined="maybe")
    with pytest.raises(ValueError, match="scale"):
        tune_thresholds(s, np.zeros((3, 4)), scale="logit")
    assert thresholded(s, np.ones((3, 4)), top_k=2**70).predicted == 12
