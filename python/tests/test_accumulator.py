"""MeanAP: batches give the one-shot call's bits; merge is concatenation; pickling round-trips; memory is
the data once; a refused batch leaves the accumulator as it was."""

import pickle

import numpy as np
import pytest

import twoway
from twoway.metrics import MeanAP


def _data(seed=0, rows=1000, cols=17, dtype=np.float32):
    rng = np.random.default_rng(seed)
    s = (np.round(rng.standard_normal((rows, cols)) * 8) / 8).astype(dtype)  # ties
    u = rng.random((rows, cols))
    y = np.where(u < 0.1, 1, np.where(u < 0.2, -1, 0)).astype(np.int8)
    return s, y


def _same(a, b):
    assert a.map_class.hex() == b.map_class.hex() and a.map_sample.hex() == b.map_sample.hex()
    np.testing.assert_array_equal(a.per_class, b.per_class)
    np.testing.assert_array_equal(a.per_sample, b.per_sample)


@pytest.mark.parametrize("ties", ["grouped", "index"])
def test_batches_equal_the_one_shot_call(ties):
    s, y = _data()
    m = MeanAP(17, ties=ties)
    for i in range(0, 1000, 96):
        m.update(s[i:i + 96], y[i:i + 96])
    assert len(m) == 1000 and m.num_classes == 17
    _same(m.compute(), twoway.evaluate(s, y, ties=ties))


def test_merge_equals_concatenation_and_pickling_round_trips():
    s, y = _data(1)
    parts = [MeanAP(17) for _ in range(3)]
    for k, m in enumerate(parts):
        for i in range(k * 300, min(1000, (k + 1) * 300 + (100 if k == 2 else 0)), 50):
            m.update(s[i:i + 50], y[i:i + 50])
    shipped = [pickle.loads(pickle.dumps(m)) for m in parts]
    merged = shipped[0].merge(shipped[1]).merge(shipped[2])
    _same(merged.compute(), twoway.evaluate(s, y))
    assert len(merged) == 1000


def test_float64_batches_widen_the_held_scores_exactly():
    s, y = _data(2, dtype=np.float64)
    m = MeanAP(17)
    m.update(s[:500].astype(np.float32), y[:500])
    m.update(s[500:], y[500:].astype(np.float64))
    want = np.concatenate([s[:500].astype(np.float32).astype(np.float64), s[500:]])
    _same(m.compute(), twoway.evaluate(want, y))


def test_memory_is_the_scores_and_targets_once():
    s, y = _data(3, rows=40_137, cols=80)  # MS-COCO val's shape
    m = MeanAP(80, capacity=40_137)
    for i in range(0, 40_137, 512):
        m.update(s[i:i + 512], y[i:i + 512])
    assert m.nbytes == 40_137 * 80 * (4 + 1)  # 16 MB: float32 scores + int8 targets
    grown = MeanAP(80)
    for i in range(0, 40_137, 512):
        grown.update(s[i:i + 512], y[i:i + 512])
    assert grown.nbytes <= 2 * 40_137 * 80 * 5  # without the hint, one buffer each that grows


def test_a_refused_batch_appends_nothing():
    s, y = _data(4)
    m = MeanAP(17)
    m.update(s[:100], y[:100])
    bad = y[100:200].copy()
    bad[7, 3] = 3
    with pytest.raises(ValueError, match=r"update 1 \(samples 100 to 199 of the accumulator\): targets\[7, 3\] = 3 is outside"):
        m.update(s[100:200], bad)
    nan = s[100:200].copy()
    nan[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"scores\[0, 0\] = inf is not finite"):
        m.update(nan, y[100:200])
    with pytest.raises(ValueError, match=r"num_classes=17"):
        m.update(s[:10, :5], y[:10, :5])
    with pytest.raises(ValueError, match=r"shape"):
        m.update(s[:10], y[:11])
    assert len(m) == 100
    _same(m.compute(), twoway.evaluate(s[:100], y[:100]))


def test_misuse_is_named():
    with pytest.raises(ValueError, match="no sample yet"):
        MeanAP(3).compute()
    with pytest.raises(ValueError, match="num_classes=0"):
        MeanAP(0)
    with pytest.raises(ValueError, match="ties"):
        MeanAP(3, ties="mean")
    with pytest.raises(ValueError, match="num_classes=3 and the other 4"):
        MeanAP(3).merge(MeanAP(4))
    with pytest.raises(ValueError, match="rules differ"):
        MeanAP(3).merge(MeanAP(3, ties="index"))
    with pytest.raises(ValueError, match="not a pickled MeanAP"):
        twoway._native.Accumulator.from_bytes(b"twmeanap" + bytes(10))
    m = MeanAP(3)
    m.update(np.ones((2, 3)), np.eye(2, 3))
    m.reset()
    assert len(m) == 0


def test_copies_are_independent_and_merging_with_itself_doubles():
    import copy

    s, y = _data(5)
    m = MeanAP(17)
    m.update(s[:200], y[:200])
    c = copy.deepcopy(m)
    c.update(s[200:300], y[200:300])
    assert len(m) == 200 and len(c) == 300
    m.merge(m)
    _same(m.compute(), twoway.evaluate(np.concatenate([s[:200]] * 2), np.concatenate([y[:200]] * 2)))
