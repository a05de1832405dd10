#!/usr/bin/env python3
"""Times the Python peers beside the criterion results of `cargo bench` and prints the ratios.

Peers (written for this project from ../shared/paper/facts.md; no code of the authors is copied):
- the authors' two-way loss op sequence in PyTorch (float32; additive -100 masks, four logsumexps, boolean
  indexing, softplus), forward + backward, on one thread and on all threads;
- the authors' AP loop in numpy (argsort, cumulative precision, one Python iteration per vector) and
  scikit-learn's average_precision_score per vector, for mAP@class + mAP@sample.

Ratios are peer time / our time (above 1: we are faster), measured on the same machine in the same
`make bench` run. Usage: .venv/bin/python tools/bench_peers.py [--criterion target/criterion] [--quick]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score

# Must match reproduce/benches/train_step.rs (BATCH, SIZE, CLASSES).
TRAIN_STEP = (16, 224, 80)
# Must match reference/src/testing.rs (BENCH_LOSS_SIZES, BENCH_MAP_SIZES).
LOSS_SIZES = [(512, 80, 0.04, 0.0), (512, 620, 0.02, 0.5), (4096, 10000, 0.001, 0.0)]
MAP_SIZES = [(40137, 80, 0.04, 0.0), (31819, 620, 0.02, 0.5)]


def batch(rows, cols, pos, unk, seed):
    g = np.random.default_rng(seed)
    x = g.uniform(-3, 3, size=(rows, cols))
    u = g.uniform(size=(rows, cols))
    y = np.where(u < pos, 1.0, np.where(u < pos + unk, -1.0, 0.0))
    return x, y


def release_two_way(x, y, tp=4.0, tn=1.0):
    """The release's op sequence (facts.md): additive -100 masks after division by T, logsumexp per way,
    lines without a positive dropped by boolean indexing, softplus, sum of the two way means."""
    class_keep = (y > 0).any(dim=0)
    sample_keep = (y > 0).any(dim=1)
    pmask = torch.where(y > 0, 0.0, -100.0).to(x.dtype)
    nmask = torch.where(y == 0, 0.0, -100.0).to(x.dtype)
    p_class = torch.logsumexp(-x / tp + pmask, dim=0).mul(tp)[class_keep]
    p_sample = torch.logsumexp(-x / tp + pmask, dim=1).mul(tp)[sample_keep]
    n_class = torch.logsumexp(x / tn + nmask, dim=0).mul(tn)[class_keep]
    n_sample = torch.logsumexp(x / tn + nmask, dim=1).mul(tn)[sample_keep]
    sp = torch.nn.functional.softplus
    return sp(n_class + p_class).mean() + sp(n_sample + p_sample).mean()


def ap_loop(scores, targets):
    """The release's AP of one vector: drop unknowns, sort descending, mean precision at the positives."""
    keep = targets >= 0
    s, t = scores[keep], targets[keep]
    if not (t > 0).any():
        return -1
    order = s.argsort()[::-1]
    hits = np.cumsum(t[order] > 0)
    prec = hits / np.arange(1, len(order) + 1)
    return prec[t[order] > 0].sum() / ((t > 0).sum() + 1e-8)


def map_numpy(s, y):
    cls = [ap_loop(s[:, j], y[:, j]) for j in range(s.shape[1])]
    smp = [ap_loop(s[i], y[i]) for i in range(s.shape[0])]
    return [100 * np.mean([a for a in v if a >= 0]) for v in (cls, smp)]


def ap_sklearn(scores, targets):
    keep = targets >= 0
    if not (targets[keep] > 0).any():
        return -1
    return average_precision_score(targets[keep] > 0, scores[keep])


def map_sklearn(s, y):
    cls = [ap_sklearn(s[:, j], y[:, j]) for j in range(s.shape[1])]
    smp = [ap_sklearn(s[i], y[i]) for i in range(s.shape[0])]
    return [100 * np.mean([a for a in v if a >= 0]) for v in (cls, smp)]


def timeit(fn, repeats, budget):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget and len(times) >= 3:
            break
    return statistics.median(times)


def criterion(root, group, function, size):
    path = os.path.join(root, group, function, size, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e9
    except OSError:
        return None


def fmt(t):
    return "-" if t is None else (f"{t * 1e3:9.2f} ms" if t < 10 else f"{t:9.2f} s ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", default="target/criterion")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    ap.add_argument("--only", choices=["loss", "map", "train"], help="run one group of peers only")
    args = ap.parse_args()
    budget = 2.0 if args.quick else 20.0
    report = {"loss": [], "map": [], "train": []}
    all_threads = torch.get_num_threads()

    if args.only in (None, "loss"):
        loss_peers(args, budget, report, all_threads)
    if args.only in (None, "map"):
        map_peers(args, budget, report)
    if args.only in (None, "train"):
        train_peers(args, budget, report, all_threads)
    os.makedirs("target", exist_ok=True)
    with open("target/bench-report.json", "w") as f:
        json.dump(report, f, indent=1)
    print("\n(report also in target/bench-report.json)", file=sys.stderr)


def loss_peers(args, budget, report, all_threads):
    print("\n## Two-way loss, forward + backward (median per call)\n")
    ours = ["reference", "reference_1thread", "tch_cpu", "tch_cpu_1thread", "release_tch_cpu", "release_tch_cpu_1thread", "tch_cuda", "release_tch_cuda"]
    print(f"| size | {' | '.join(ours)} | PyTorch release f32 1 thread | same, denormals flushed | PyTorch release f32 {all_threads} threads | speed-up vs PyTorch 1 thread |")
    print("|---|" + "---:|" * (len(ours) + 4))
    for rows, cols, pos, unk in LOSS_SIZES:
        x, y = batch(rows, cols, pos, unk, 1)
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        yt = torch.tensor(y, dtype=torch.float32)

        def step():
            xt.grad = None
            release_two_way(xt, yt).backward()

        repeats = 3 if rows * cols > 1e6 else 50
        torch.set_num_threads(1)
        peer1 = timeit(step, repeats, budget)
        # The release's -100 masks make exp() produce float32 denormals, which are slow on x86 CPUs; the
        # same op sequence with denormals flushed to zero shows how much of the gap that is.
        torch.set_flush_denormal(True)
        peer1_ftz = timeit(step, repeats, budget)
        torch.set_flush_denormal(False)
        torch.set_num_threads(all_threads)
        peer_all = timeit(step, repeats, budget)
        size = f"{rows}x{cols}"
        mine = {name: criterion(args.criterion, "twoway_fwd_bwd", name, size) for name in ours}
        ratios = ", ".join(f"{n} {peer1 / t:.1f}x" for n, t in mine.items() if t and not n.startswith("release"))
        print(f"| {size} | {' | '.join(fmt(mine[n]) for n in ours)} | {fmt(peer1)} | {fmt(peer1_ftz)} | {fmt(peer_all)} | {ratios} |")
        report["loss"].append({"size": size, "ours_s": mine, "pytorch_release_f32_1thread_s": peer1,
                               "pytorch_release_f32_1thread_flush_denormal_s": peer1_ftz, "pytorch_release_f32_all_s": peer_all})

    print("\n## tch implementation against the authors' op sequence on the same libtorch (f32, CPU)\n")
    print("| size | threads | tch | release (tch) | speed-up |")
    print("|---|---|---:|---:|---:|")
    for rows, cols, _, _ in LOSS_SIZES:
        size = f"{rows}x{cols}"
        for suffix, label in [("cpu_1thread", "1"), ("cpu", str(all_threads)), ("cuda", "CUDA")]:
            t_ours = criterion(args.criterion, "twoway_fwd_bwd", f"tch_{suffix}", size)
            t_peer = criterion(args.criterion, "twoway_fwd_bwd", f"release_tch_{suffix}", size)
            if t_ours and t_peer:
                print(f"| {size} | {label} | {fmt(t_ours)} | {fmt(t_peer)} | {t_peer / t_ours:.1f}x |")



def map_peers(args, budget, report):
    print("\n## mAP@class + mAP@sample (median per call)\n")
    print("| size | reference | reference 1 thread | numpy AP loop | scikit-learn | speed-up vs numpy (all / 1 thread) | vs scikit-learn |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for rows, cols, pos, unk in MAP_SIZES:
        s, y = batch(rows, cols, pos, unk, 2)
        size = f"{rows}x{cols}"
        t_np = timeit(lambda: map_numpy(s, y), 3, budget)
        t_sk = timeit(lambda: map_sklearn(s, y), 1, budget)
        ref = criterion(args.criterion, "map_class_sample", "reference", size)
        ref1 = criterion(args.criterion, "map_class_sample", "reference_1thread", size)
        sp = f"{t_np / ref:.0f}x / {t_np / ref1:.0f}x" if ref and ref1 else "-"
        spk = f"{t_sk / ref:.0f}x" if ref else "-"
        print(f"| {size} | {fmt(ref)} | {fmt(ref1)} | {fmt(t_np)} | {fmt(t_sk)} | {sp} | {spk} |")
        report["map"].append({"size": size, "reference_s": ref, "reference_1thread_s": ref1, "numpy_loop_s": t_np, "sklearn_s": t_sk})


def train_peers(args, budget, report, all_threads):
    """One training step of resnet50 in PyTorch eager: torchvision's model with a new Linear head, the
    release's two-way op sequence, SGD (Nesterov, momentum 0.9, weight decay 1e-4) over the head / backbone
    learning-rate groups, on the same libtorch and threads as `cargo bench`'s train_step."""
    import torchvision

    batch, size, classes = TRAIN_STEP
    print(f"\n## Training step: resnet50, batch {batch}, {size} px, f32 (median per step; images/s)\n")
    print("| device | twoway | PyTorch eager | twoway images/s | PyTorch images/s | ratio (PyTorch time / twoway time) |")
    print("|---|---:|---:|---:|---:|---:|")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        torch.set_num_threads(all_threads)
        torch.manual_seed(0)
        model = torchvision.models.resnet50(weights=None)
        model.fc = torch.nn.Linear(2048, classes)
        model = model.to(dev).train()
        head = [p for n, p in model.named_parameters() if n.startswith("fc.")]
        trunk = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
        opt = torch.optim.SGD([{"params": trunk, "lr": 0.001}, {"params": head, "lr": 0.01}], lr=0.01,
                              momentum=0.9, nesterov=True, weight_decay=1e-4)
        x = torch.randn(batch, 3, size, size, device=dev)
        y = (torch.rand(batch, classes, device=dev) < 0.05).float()

        def step():
            opt.zero_grad()
            loss = release_two_way(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        peer = timeit(step, 3 if args.quick else 10, budget * 3)
        ours = criterion(args.criterion, "train_step", f"resnet50_b{batch}_{size}", dev)
        ratio = f"{peer / ours:.2f}x" if ours else "-"
        ips = lambda t: "-" if not t else f"{batch / t:.1f}"
        print(f"| {dev} ({all_threads} threads) | {fmt(ours)} | {fmt(peer)} | {ips(ours)} | {ips(peer)} | {ratio} |")
        report["train"].append({"device": dev, "threads": all_threads, "ours_s": ours, "pytorch_eager_s": peer})


if __name__ == "__main__":
    main()
