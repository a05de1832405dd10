"""twoway.metrics against closed forms, the `twoway` command (bit for bit), scikit-learn (where its
conventions agree) and its own promises: arrays read in place, the GIL released, bad input named."""

import json
import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import twoway
from twoway import metrics


def test_closed_forms_of_one_vector():
    # Positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2.
    assert metrics.average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(100 * (1 + 2 / 3) / 2)
    # The unknown (-1) entry at rank 1 is dropped: positives at ranks 1 and 2 of the rest.
    assert metrics.average_precision([0.95, 0.9, 0.8, 0.7], [-1, 1, 1, 0]) == pytest.approx(100.0)
    # A tie of a positive and a negative at the top: grouped gives both the precision after the group
    # (1/2), then 2/3; index ranks the positive (first by position) at 1.
    s, y = [0.5, 0.5, 0.3], [1, 0, 1]
    assert metrics.average_precision(s, y, ties="grouped") == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert metrics.average_precision(s, y, ties="index") == pytest.approx(100 * (1 + 2 / 3) / 2)
    # The release's denominator: positives + 1e-8.
    got = metrics.average_precision([0.9, 0.8], [1, 1], denominator="release")
    assert got == pytest.approx(100 * 2 / (2 + 1e-8), rel=1e-15)
    assert math.isnan(metrics.average_precision([0.9, 0.8], [0, -1]))


def test_map_class_and_map_sample_of_a_small_matrix():
    s = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6]])
    y = np.array([[1, 0], [0, 1], [1, -1]])
    # Class 0: positives at ranks 1 and 3 of (0.9, 0.8, 0.2) -> (1 + 2/3)/2; class 1: one positive, at
    # rank 1 of (0.7, 0.1) -> 1.
    assert twoway.map_class(s, y) == pytest.approx(100 * ((1 + 2 / 3) / 2 + 1) / 2)
    # Rows: 1; the positive at rank 2 -> 1/2; 1 (row 2's unknown is dropped).
    assert twoway.map_sample(s, y) == pytest.approx(100 * (1 + 1 / 2 + 1) / 3)
    r = twoway.evaluate(s, y)
    assert r.classes_evaluated == 2 and r.samples_evaluated == 3
    np.testing.assert_allclose(metrics.average_precision(s, y, axis=0), [100 * (1 + 2 / 3) / 2, 100.0])


def _hard_case(rng, rows, cols, dtype, target_dtype):
    """Scores with many ties (rounded), unknowns, an all-negative row, an all-unknown column."""
    s = np.round(rng.standard_normal((rows, cols)) * 4) / 4
    u = rng.random((rows, cols))
    y = np.where(u < 0.15, 1, np.where(u < 0.3, -1, 0))
    y[3, :] = 0
    y[:, 5] = -1
    return s.astype(dtype), y.astype(target_dtype)


def _command(twoway_bin, tmp_path, s, y, *extra):
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "y.npy", y)
    cmd = [twoway_bin, "map", "--scores", str(tmp_path / "s.npy"), "--targets", str(tmp_path / "y.npy")]
    out = subprocess.run(cmd + ["--format", "json", "--per-class", *extra], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "dtype,target_dtype", [(np.float32, np.int8), (np.float64, np.float64), (np.float32, np.float32)]
)
@pytest.mark.parametrize("ties", ["grouped", "index"])
def test_the_same_bits_as_the_twoway_command(twoway_bin, tmp_path, dtype, target_dtype, ties):
    rng = np.random.default_rng(7)
    s, y = _hard_case(rng, 300, 23, dtype, target_dtype)
    want = _command(twoway_bin, tmp_path, s, y, "--ties", ties)
    got = twoway.evaluate(s, y, ties=ties)
    assert got.map_class.hex() == float(want["map_class"]).hex()
    assert got.map_sample.hex() == float(want["map_sample"]).hex()
    per_class = [math.nan if v is None else v for v in want["per_class"]]
    assert [v.hex() for v in got.per_class.tolist()] == [float(v).hex() for v in per_class]
    assert math.isnan(got.per_class[5]) and math.isnan(got.per_sample[3])
    assert want["classes_evaluated"] == got.classes_evaluated


def test_agrees_with_scikit_learn_where_its_conventions_agree():
    # No ties (continuous scores), no unknown, every class and sample with a positive and a negative:
    # there scikit-learn's average_precision_score is the same AP.
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(1)
    s = rng.standard_normal((400, 12))
    y = (rng.random((400, 12)) < 0.3).astype(np.int8)
    y[:, 0], y[0, :], y[1, :] = 1, 1, 0
    y[2:, 0] = rng.random(398) < 0.5
    y[0, 1], y[1, 1] = 0, 1
    keep = (y.sum(1) > 0) & (y.sum(1) < y.shape[1])
    s, y = s[keep], y[keep]
    per_class = metrics.average_precision(s, y, axis=0)
    per_sample = metrics.average_precision(s, y, axis=1)
    compared = 0
    for j in range(y.shape[1]):
        assert per_class[j] == pytest.approx(100 * average_precision_score(y[:, j], s[:, j]), rel=1e-12)
        compared += 1
    for i in range(y.shape[0]):
        assert per_sample[i] == pytest.approx(100 * average_precision_score(y[i], s[i]), rel=1e-12)
        compared += 1
    assert compared > 300


def test_torch_tensors_are_read_in_place_and_give_the_numpy_results():
    import torch
    from twoway._arrays import as_array

    rng = np.random.default_rng(3)
    s, y = _hard_case(rng, 120, 9, np.float32, np.int8)
    want = twoway.evaluate(s, y)
    ts, ty = torch.from_numpy(s.copy()), torch.from_numpy(y.astype(np.int64))
    assert np.shares_memory(as_array(ts, "scores"), ts.numpy())
    got = twoway.evaluate(ts, ty)
    assert got.map_class == want.map_class and got.map_sample == want.map_sample
    # Boolean targets (no unknown) and bfloat16 scores (widened exactly to float32).
    known = np.maximum(y, 0)
    b16 = torch.from_numpy(s).to(torch.bfloat16)
    want = twoway.evaluate(b16.float().numpy(), known)
    got = twoway.evaluate(b16, torch.from_numpy(known.astype(bool)))
    assert got.map_class == want.map_class and got.map_sample == want.map_sample


def test_bad_inputs_raise_value_errors_naming_the_entry():
    s = np.zeros((4, 3), np.float32)
    y = np.zeros((4, 3), np.int8)
    y[0, 0] = 1
    bad = y.copy()
    bad[3, 2] = 2
    with pytest.raises(ValueError, match=r"targets\[3, 2\] = 2 is outside \{-1, 0, 1\}"):
        twoway.map_class(s, bad)
    half = y.astype(np.float64)
    half[1, 1] = 0.5
    with pytest.raises(ValueError, match=r"targets\[1, 1\] = 0.5 is outside"):
        twoway.map_class(s, half)
    nan = s.copy()
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"scores\[2, 1\] = NaN is not finite"):
        twoway.map_sample(nan, y)
    with pytest.raises(ValueError, match=r"scores has shape \(4, 3\) but targets has shape \(3, 4\)"):
        twoway.map_class(s, y.T)
    with pytest.raises(ValueError, match=r"scores must be 2-D"):
        twoway.map_class(s.ravel(), y.ravel())
    with pytest.raises(ValueError, match=r"at least one sample"):
        twoway.map_class(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(TypeError, match=r"scores: expected float scores"):
        twoway.map_class(s.astype(complex), y)
    with pytest.raises(ValueError, match=r"ties=\"mean\""):
        twoway.map_class(s, y, ties="mean")
    with pytest.raises(ValueError, match=r"axis=2"):
        metrics.average_precision(s, y, axis=2)


def test_the_computation_releases_the_gil():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((200_000, 80)).astype(np.float32)
    y = (rng.random((200_000, 80)) < 0.04).astype(np.int8)
    start = time.perf_counter()
    twoway.evaluate(s, y)
    alone = time.perf_counter() - start
    done = threading.Event()
    ticks = 0

    def work():
        twoway.evaluate(s, y)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
    t.join()
    # With the GIL held for the whole computation this thread would get a handful of ticks (at most a
    # switch interval's worth before the call starts); released, it counts on throughout.
    assert alone > 0.05
    assert ticks > 20_000, f"{ticks} ticks while the other thread computed for about {alone:.2f} s"


RSS_SCRIPT = r"""
import resource, sys
import numpy as np
import twoway
rows, cols = int(sys.argv[1]), int(sys.argv[2])
s = np.empty((rows, cols), np.float32)
y = np.empty((rows, cols), np.int8)
g = np.random.default_rng(0)
for i in range(0, rows, 4096):  # small chunks: the generator's temporaries stay small
    n = min(4096, rows - i)
    s[i:i + n] = g.standard_normal((n, cols), dtype=np.float32)
    y[i:i + n] = g.random((n, cols), dtype=np.float32) < 0.005
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = twoway.evaluate(s, y)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, s.nbytes, r.map_class)
"""


def test_a_1gb_float32_matrix_is_not_copied():
    # VAW's shape (620 attributes, about 0.5 % positive) at 1 GiB of float32 scores: 432,958 rows.
    rows, cols = 432_958, 620
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(rows), str(cols)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, after, nbytes, _ = out.stdout.split()
    before, after = int(before) * 1024, int(after) * 1024
    assert int(nbytes) >= 2**30 - 2**20
    assert after - before < 0.10 * before, f"peak RSS rose by {(after - before) / 2**20:.0f} MiB over {before / 2**20:.0f} MiB"


PEAK_SCRIPT = r"""
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(out.stderr)
print(out.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def _peak(cmd):
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, *cmd], capture_output=True, text=True)
    code, peak = out.stdout.split()
    assert code == "0", out.stderr
    return int(peak)


def test_the_twoway_command_reads_npy_files_in_place(twoway_bin, tmp_path):
    # 128 MiB of float32 scores and 32 MiB of int8 targets: read into memory and then into an array, as
    # before, the command's peak would grow by twice their size; mapped, by their size once.
    rows, cols = 54_120, 620
    rng = np.random.default_rng(5)
    s = np.lib.format.open_memmap(tmp_path / "s.npy", mode="w+", dtype=np.float32, shape=(rows, cols))
    y = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.int8, shape=(rows, cols))
    for i in range(0, rows, 4096):
        n = min(4096, rows - i)
        s[i:i + n] = rng.standard_normal((n, cols), dtype=np.float32)
        y[i:i + n] = rng.random((n, cols), dtype=np.float32) < 0.005
    s.flush(), y.flush()
    size = s.nbytes + y.nbytes
    np.save(tmp_path / "s1.npy", np.asarray(s[:10]))
    np.save(tmp_path / "y1.npy", np.asarray(y[:10]))
    cmd = lambda a, b: [twoway_bin, "map", "--scores", str(tmp_path / a), "--targets", str(tmp_path / b)]
    small, big = _peak(cmd("s1.npy", "y1.npy")), _peak(cmd("s.npy", "y.npy"))
    assert big - small < 1.3 * size, f"peak grew by {(big - small) / 2**20:.0f} MiB for {size / 2**20:.0f} MiB of files"
    # And the numbers are the library's.
    got = json.loads(subprocess.run(cmd("s.npy", "y.npy") + ["--format", "json"], capture_output=True, text=True).stdout)
    want = twoway.evaluate(s, y)
    assert got["map_class"] == want.map_class and got["map_sample"] == want.map_sample
