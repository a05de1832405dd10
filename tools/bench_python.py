#!/usr/bin/env python3
"""Times the installed Python package `twoway` (and the torch-free `twoway map` command) against its Python peers,
side by side in one run on the same machine, and prints the ratios with the goal of each.

What is timed (bench_peers.batch's data; float32 scores, int8 targets, int64 for torchmetrics):
1. mAP in process at 40,137 x 80 (MS-COCO val's shape, 4% positives) and 31,819 x 620 (VAW-like, 2% positives,
   50% unknown): twoway.metrics.evaluate (mAP@class and mAP@sample at once) against torchmetrics'
   MultilabelAveragePrecision(average="macro", thresholds=None, ignore_index=-1) update + compute (mAP@class only:
   it has no sample-wise mAP), bench_peers.map_sklearn (per-vector scikit-learn loop) and bench_peers.map_numpy (the
   release's AP loop); then twoway.metrics.MeanAP against the same torchmetrics metric, both fed batches of 512.
2. `twoway map --scores s.npy --targets y.npy` (torch-free release build) against the release's loop as a script
   (python -c, importing bench_peers.map_numpy with its torch / scikit-learn imports stubbed, so the peer pays for
   python + numpy only; the full run adds bench_peers.MAP_PEER, the same with those imports, without a goal),
   whole-process wall time; the .npy files are written once to a temporary folder.
3. Forward + backward of twoway.torch.TwoWayLoss against bench_peers.release_two_way (CPU float32, 2 torch threads)
   at 512 x 80 and 4096 x 10000, with SoftmaxLoss / BCELoss / FocalLoss / AsymmetricLoss beside (no peer).
A sanity check runs first: twoway's mAPs against map_numpy (1e-6) and torchmetrics' macro AP (1e-4 on a 0-1 scale)
on a tie-free case.

Timing: a warm-up call, then bench_peers.timeit (median of up to `repeats` calls within a time budget), or one timed
call when a call takes over a quarter of the budget ("runs" in the JSON; with --quick a cold call over 2 s is the
figure; scikit-learn, a minute a call, is timed once). Commands: median of several runs. Ratios: peer time / twoway
time (above 1: twoway faster). Only an idle machine gives meaningful figures (2 torch threads on a busy 2-core
machine run up to 10x slower): the load average is printed before and after.
Usage: .venv/bin/python tools/bench_python.py --twoway-lite target/torch-free/release/twoway [--quick]
Writes target/bench-python.json.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

sys.dont_write_bytecode = True  # no tools/__pycache__ from importing bench_peers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_peers  # noqa: E402
from bench_peers import MAP_SIZES, batch, fmt, map_numpy, map_sklearn, release_two_way  # noqa: E402

import torchmetrics  # noqa: E402
import twoway  # noqa: E402
from torchmetrics.classification import MultilabelAveragePrecision  # noqa: E402
from twoway import metrics as twm, torch as twt  # noqa: E402

LOSS_SIZES = [(512, 80, 0.04, 0.0), (4096, 10000, 0.001, 0.0)]
BATCH = 512
ROWS = []


def measure(fn, repeats, budget):
    """(seconds, runs): after a warm-up call, bench_peers.timeit's median when a call is short, else one call's time."""
    t = time.perf_counter()
    fn()  # warm-up (the first call of a torch op or of a fresh allocation can cost 3x more)
    first = time.perf_counter() - t
    if first > 2 * budget:  # over 2 s with --quick (budget 1 s): the cold call is the figure
        return first, "1 cold"
    t = time.perf_counter()
    fn()
    once = time.perf_counter() - t
    if once * 4 > budget:
        return once, 1
    return bench_peers.timeit(fn, repeats, budget), "median"


def row(section, size, ours, t_ours, peer, t_peer, goal, runs, note=""):
    ratio = t_peer / t_ours if t_ours and t_peer else None
    met = "-" if ratio is None or goal is None else ("yes" if ratio >= goal else "NO")
    ROWS.append({"section": section, "size": size, "ours": ours, "ours_s": t_ours, "peer": peer, "peer_s": t_peer,
                 "ratio": ratio, "goal": goal, "met": met, "runs": runs, "note": note})
    r = "-" if ratio is None else f"{ratio:.1f}x"
    g = "-" if goal is None else f">= {goal}x"
    print(f"| {size} | {ours} | {fmt(t_ours)} | {peer} | {fmt(t_peer)} | {r} | {g} | {met} |{note}", flush=True)


def header(title):
    print(f"\n## {title}\n")
    print("| size | twoway | time | peer | time | peer / twoway | goal | met |")
    print("|---|---|---:|---|---:|---:|---:|---|")


def cpu_model():
    try:  # the first processor's block; family / model tell what a hypervisor's bare "AMD EPYC" is
        with open("/proc/cpuinfo") as f:
            info = dict(map(str.strip, line.split(":", 1)) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        return f"{info['model name']} (family {info['cpu family']}, model {info['model']})"
    except (OSError, KeyError):
        return platform.processor() or "unknown"


def tm_metric(cols):
    return MultilabelAveragePrecision(num_labels=cols, average="macro", thresholds=None, ignore_index=-1)


def sanity(report):
    """A tie-free case (float64 scores, unique per column and per row): the three must compute the same mAP."""
    s, y = batch(3000, 80, 0.04, 0.5, 7)
    assert all(len(np.unique(s[:, j])) == s.shape[0] for j in range(s.shape[1]))
    ours = twm.evaluate(s, y.astype(np.int8), denominator="release")
    ref = map_numpy(s, y)
    m = tm_metric(s.shape[1])
    m.update(torch.from_numpy(s), torch.from_numpy(y.astype(np.int64)))
    tmv = float(m.compute())
    checks = [("mAP@class twoway", ours.map_class, "numpy loop", ref[0], 1e-6),
              ("mAP@sample twoway", ours.map_sample, "numpy loop", ref[1], 1e-6),
              ("mAP@class twoway / 100 =", ours.map_class / 100, "torchmetrics macro AP (0-1 scale)", tmv, 1e-4)]
    d = [abs(a - b) for _, a, _, b, _ in checks]
    ok = [x <= c[4] for x, c in zip(d, checks)]
    print("\n## Sanity (3000 x 80, 50% unknown, float64 scores without ties)\n")
    for (na, a, nb, b, tol), x, good in zip(checks, d, ok):
        print(f"{'agree' if good else 'DISAGREE'}: {na} {a:.9f}, {nb} {b:.9f} (|diff| {x:.1e} <= {tol:.0e})")
    report["sanity"] = {"twoway": [ours.map_class, ours.map_sample], "numpy": ref, "torchmetrics": tmv, "diffs": d,
                        "agree": all(ok)}
    return all(ok)


def map_in_process(args, budget, report):
    header(f"mAP in process, float32 scores (median per call; torch {torch.get_num_threads()} threads, twoway all CPUs)")
    results = {}
    for rows, cols, pos, unk in MAP_SIZES:
        size = f"{rows}x{cols}"
        s64, y64 = batch(rows, cols, pos, unk, 2)
        s, y = s64.astype(np.float32), y64.astype(np.int8)
        st, yt = torch.from_numpy(s), torch.from_numpy(y64.astype(np.int64))
        out = results.setdefault(size, {})
        t_ours, _ = measure(lambda: out.__setitem__("twoway", twm.evaluate(s, y)), 50, budget)
        m = tm_metric(cols)

        def tm():
            m.reset()
            m.update(st, yt)
            out["torchmetrics"] = float(m.compute())
        t_tm, n_tm = measure(tm, 5, budget)
        row("map", size, "evaluate (both mAPs)", t_ours, "torchmetrics (mAP@class only)", t_tm, 20, n_tm)
        if args.quick:
            row("map", size, "evaluate (both mAPs)", t_ours, "scikit-learn per vector", None, None, 0, " skipped with --quick")
        else:
            t = time.perf_counter()
            out["sklearn"] = map_sklearn(s, y)
            row("map", size, "evaluate (both mAPs)", t_ours, "scikit-learn per vector", time.perf_counter() - t, None, 1)
        t_np, n_np = measure(lambda: out.__setitem__("numpy", map_numpy(s, y)), 5, budget)
        row("map", size, "evaluate (both mAPs)", t_ours, "release numpy loop", t_np, 50, n_np)

        chunks = [(s[i:i + BATCH], y[i:i + BATCH], st[i:i + BATCH], yt[i:i + BATCH]) for i in range(0, rows, BATCH)]
        acc = twm.MeanAP(cols)

        def ours_batches():
            acc.reset()
            for a, b, _, _ in chunks:
                acc.update(a, b)
            acc.compute()
        t_acc, _ = measure(ours_batches, 50, budget)

        def tm_batches():
            m.reset()
            for _, _, a, b in chunks:
                m.update(a, b)
            m.compute()
        t_tmb, n_tmb = measure(tm_batches, 5, budget)
        row("map_batches", size, f"MeanAP, batches of {BATCH}", t_acc, f"torchmetrics, same batches (mAP@class only)",
            t_tmb, 20, n_tmb)
    print("\nValues at bench size (float32 scores have ties; twoway groups them, the loops break them by order):")
    for size, out in results.items():
        tw = out["twoway"]
        extra = "".join(f", {k} {v[0]:.4f} / {v[1]:.4f}" for k, v in out.items() if k in ("numpy", "sklearn"))
        print(f"- {size} (mAP@class / mAP@sample): twoway {tw.map_class:.4f} / {tw.map_sample:.4f}{extra}, "
              f"torchmetrics {100 * out['torchmetrics']:.4f} (class)")
    report["map_values"] = {k: {"twoway": [v["twoway"].map_class, v["twoway"].map_sample],
                                **{n: v[n] for n in ("numpy", "sklearn") if n in v}, "torchmetrics": v["torchmetrics"]}
                            for k, v in results.items()}


# bench_peers imports torch and scikit-learn at its top; the AP loop needs numpy only, so both are stubbed out
# (their import costs seconds, which would flatter twoway).
MAP_PEER = """
import sys, types
class Stub(types.ModuleType):
    def __getattr__(self, name): return Stub(name)
    def __call__(self, *a, **k): return Stub("value")
    def __mro_entries__(self, bases): return (object,)
for name in ("torch", "sklearn", "sklearn.metrics"): sys.modules[name] = Stub(name)
import numpy as np
sys.path.insert(0, sys.argv[3])
from bench_peers import map_numpy
s, y = np.load(sys.argv[1]), np.load(sys.argv[2])
print(*map_numpy(s, y))
"""


def command(args, report):
    runs = 3 if args.quick else 5
    lite = args.twoway_lite
    header(f"mAP as commands on .npy files (whole-process wall time, median of {runs} runs)")
    if not os.path.exists(lite):
        print(f"(no {lite}: build it with `make build-lite`; section skipped)")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        for rows, cols, pos, unk in MAP_SIZES:
            size = f"{rows}x{cols}"
            s, y = batch(rows, cols, pos, unk, 2)
            sp, yp = os.path.join(tmp, f"s_{size}.npy"), os.path.join(tmp, f"y_{size}.npy")
            np.save(sp, s.astype(np.float32))
            np.save(yp, y.astype(np.int8))
            ours_cmd = [lite, "map", "--scores", sp, "--targets", yp]
            peer_cmd = [sys.executable, "-B", "-c", MAP_PEER, sp, yp, here]
            outs = {}

            def median(cmd, key, n=runs):
                times = []
                for _ in range(n):
                    t = time.perf_counter()
                    p = subprocess.run(cmd, check=True, capture_output=True, text=True)
                    times.append(time.perf_counter() - t)
                outs[key] = p.stdout.strip().replace("\n", " ")
                return statistics.median(times)
            t_ours, t_peer = median(ours_cmd, "twoway"), median(peer_cmd, "numpy")
            row("command", size, "twoway map (torch-free)", t_ours, "release loop as python script", t_peer, 100, runs)
            if not args.quick:  # as bench_peers runs it: importing torch and scikit-learn too (seconds)
                t_imp = median([sys.executable, "-B", "-c", bench_peers.MAP_PEER, sp, yp, here], "numpy_imports", 3)
                row("command", size, "twoway map (torch-free)", t_ours, "same script, torch + sklearn imported", t_imp,
                    None, 3)
            print(f"  twoway printed: {outs['twoway'][:150]}\n  script printed: {outs['numpy']}")
            report.setdefault("command_outputs", {})[size] = outs


def losses(args, budget):
    torch.set_num_threads(2)
    others = [("SoftmaxLoss", twt.SoftmaxLoss()), ("BCELoss", twt.BCELoss()), ("FocalLoss", twt.FocalLoss()),
              ("AsymmetricLoss", twt.AsymmetricLoss())]
    header("Losses, forward + backward, CPU float32, torch.set_num_threads(2) (median per call)")
    beside = []
    for rows, cols, pos, unk in LOSS_SIZES:
        size = f"{rows}x{cols}"
        x, y = batch(rows, cols, pos, unk, 1)
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        yt = torch.tensor(y, dtype=torch.float32)
        repeats = 5 if rows * cols > 1e6 else 50

        def timed(loss):
            def step():
                xt.grad = None
                loss(xt, yt).backward()
            return measure(step, repeats, budget)
        t_peer, n_peer = timed(release_two_way)
        t_ours, n_ours = timed(twt.TwoWayLoss())
        row("loss", size, "TwoWayLoss()", t_ours, "release op sequence", t_peer, 1, n_peer)
        for name, loss in others:
            t, n = timed(loss)
            ROWS.append({"section": "loss_beside", "size": size, "ours": name, "ours_s": t, "runs": n,
                         "relative_to_twowayloss": t / t_ours})
            beside.append(f"| {size} | {name} | {fmt(t)} | {t / t_ours:.2f} |")
    print("\nThe other modules beside TwoWayLoss (no peer; time relative to TwoWayLoss's at the same size):\n")
    print("| size | module | time | x TwoWayLoss |\n|---|---|---:|---:|\n" + "\n".join(beside))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--twoway-lite", default="target/torch-free/release/twoway", help="the torch-free twoway binary")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no scikit-learn (about a minute)")
    ap.add_argument("--out", default="target/bench-python.json")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # torchmetrics' per-class warnings
    budget = 1.0 if args.quick else 5.0
    start = time.perf_counter()
    report = {"cpu": cpu_model(), "cpus": os.cpu_count(), "torch_threads_map": torch.get_num_threads(),
              "torch_threads_loss": 2, "quick": args.quick, "loadavg_start": os.getloadavg(),
              "versions": {"twoway": getattr(twoway, "__version__", "?"), "torch": torch.__version__, "python":
                           platform.python_version(), "torchmetrics": torchmetrics.__version__, "numpy": np.__version__}}
    print(f"CPU: {report['cpu']}, {report['cpus']} CPUs; torch {torch.__version__} with {torch.get_num_threads()} threads "
          f"(2 for the losses); torchmetrics {torchmetrics.__version__}; numpy {np.__version__}; "
          f"{'--quick' if args.quick else 'full run'}; load average {report['loadavg_start'][0]:.2f} at start")
    report["agree"] = sanity(report)
    map_in_process(args, budget, report)
    command(args, report)
    losses(args, budget)
    report["rows"] = ROWS
    report["total_s"] = time.perf_counter() - start
    report["loadavg_end"] = os.getloadavg()
    missed = [f"{r['section']} {r['size']} vs {r['peer']}: {r['ratio']:.1f}x < {r['goal']}x" for r in ROWS if r.get("met") == "NO"]
    print(f"\nGoals missed: {'; '.join(missed) if missed else 'none'}. Total {report['total_s']:.0f} s; "
          f"load average {report['loadavg_end'][0]:.2f} at the end (about 2 is this run alone on 2 cores).")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"(report also in {args.out})", file=sys.stderr)
    return 0 if report["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
