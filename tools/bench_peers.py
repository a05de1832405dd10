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
    ap.add_argument("--only", choices=["loss", "map", "train", "data", "cli"], help="run one group of peers only")
    ap.add_argument("--twoway", default="target/release/twoway", help="the twoway binary (for command timings)")
    ap.add_argument("--twoway-lite", default="target/torch-free/release/twoway",
                    help="the torch-free twoway binary (for command timings)")
    args = ap.parse_args()
    budget = 2.0 if args.quick else 20.0
    report = {"loss": [], "map": [], "train": [], "data": [], "cli": []}
    all_threads = torch.get_num_threads()

    if args.only in (None, "loss"):
        loss_peers(args, budget, report, all_threads)
    if args.only in (None, "map"):
        map_peers(args, budget, report)
    if args.only in (None, "train"):
        train_peers(args, budget, report, all_threads)
    if args.only in (None, "data"):
        data_peers(args, budget, report)
    if args.only in (None, "cli"):
        cli_peers(args, report)
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
    print("Both sides read the same element types: f64 scores and targets, then f32 scores and int8 targets")
    print("(what a model's and a label file's .npy hold), which the reference reads without widening.\n")
    print("| size | types | reference | reference 1 thread | numpy AP loop | scikit-learn | speed-up vs numpy (all / 1 thread) | vs scikit-learn |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for rows, cols, pos, unk in MAP_SIZES:
        s64, y64 = batch(rows, cols, pos, unk, 2)
        size = f"{rows}x{cols}"
        for types, (s, y), suffix in [("f64", (s64, y64), ""), ("f32 / int8", (s64.astype(np.float32), y64.astype(np.int8)), "_f32_i8")]:
            t_np = timeit(lambda: map_numpy(s, y), 3, budget)
            t_sk = timeit(lambda: map_sklearn(s, y), 1, budget) if not suffix else None
            ref = criterion(args.criterion, "map_class_sample", f"reference{suffix}", size)
            ref1 = criterion(args.criterion, "map_class_sample", f"reference{suffix}_1thread", size)
            sp = f"{t_np / ref:.0f}x / {t_np / ref1:.0f}x" if ref and ref1 else "-"
            spk = f"{t_sk / ref:.0f}x" if ref and t_sk else "-"
            print(f"| {size} | {types} | {fmt(ref)} | {fmt(ref1)} | {fmt(t_np)} | {fmt(t_sk)} | {sp} | {spk} |")
            report["map"].append({"size": size, "types": types, "reference_s": ref, "reference_1thread_s": ref1, "numpy_loop_s": t_np, "sklearn_s": t_sk})


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


# The release's lighting noise (AlexNet-style PCA), as a transform on a CHW tensor.
EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


class Lighting:
    def __init__(self, alphastd):
        self.alphastd = alphastd

    def __call__(self, img):
        alpha = img.new_empty(3).normal_(0, self.alphastd)
        rgb = (EIGVEC * alpha.view(1, 3) * EIGVAL.view(1, 3)).sum(1)
        return img + rgb.view(3, 1, 1)


def release_train_transform():
    from torchvision import transforms as T
    return T.Compose([
        T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4), T.ToTensor(),
        Lighting(0.1), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


def release_eval_transform():
    from torchvision import transforms as T
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


class Files(torch.utils.data.Dataset):
    def __init__(self, files, transform):
        self.files, self.transform = files, transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from PIL import Image
        with open(self.files[i], "rb") as f:
            return self.transform(Image.open(f).convert("RGB"))


def measured(cmd):
    """Runs a command under /usr/bin/time: (wall seconds, peak resident MB)."""
    import subprocess
    import tempfile
    with tempfile.NamedTemporaryFile("r") as t:
        subprocess.run(["/usr/bin/time", "-o", t.name, "-f", "%e %M"] + cmd, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, kb = t.read().split()[-2:]
    return float(wall), int(kb) / 1024


COCO_LABELS_PEER = """
import sys, numpy as np
from pycocotools.coco import COCO
coco = COCO(sys.argv[1])
cats = {c: i for i, c in enumerate(sorted(coco.getCatIds()))}
ids = [i for i in coco.getImgIds() if len(coco.getAnnIds(imgIds=i)) > 0]
labels = np.zeros((len(ids), len(cats)), dtype=np.int8)
for r, i in enumerate(ids):
    for a in coco.loadAnns(coco.getAnnIds(imgIds=i)):
        labels[r, cats[a["category_id"]]] = 1
print(labels.shape)
"""


def big_coco(path, images=82081, annotations=604907, seed=0):
    """An instances file of MS-COCO train2014's size: images, annotations with polygons, 80 categories."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    g = np.random.default_rng(seed)
    cats = [{"id": int(i), "name": f"category {i}", "supercategory": "thing"} for i in
            [c for c in range(1, 91) if c not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]]
    per = g.multinomial(annotations - images, np.ones(images) / images) + 1
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write('{"info": {"description": "generated"}, "licenses": [], "images": [')
        f.write(",".join(json.dumps({"license": 1, "file_name": f"COCO_train2014_{i:012d}.jpg", "coco_url": "x",
                                     "height": 480, "width": 640, "date_captured": "2013", "id": i}) for i in range(images)))
        f.write('], "annotations": [')
        first, aid = True, 0
        for i in range(images):
            for _ in range(per[i]):
                n = int(g.integers(8, 60)) * 2
                poly = np.round(g.uniform(0, 480, n), 2).tolist()
                ann = {"segmentation": [poly], "area": float(np.round(g.uniform(10, 5e4), 3)), "iscrowd": 0,
                       "image_id": i, "bbox": np.round(g.uniform(0, 400, 4), 2).tolist(),
                       "category_id": cats[int(g.integers(0, 80))]["id"], "id": aid}
                f.write(("" if first else ",") + json.dumps(ann))
                first, aid = False, aid + 1
        f.write('], "categories": ' + json.dumps(cats) + "}")
    os.replace(tmp, path)


MAP_PEER = """
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
from bench_peers import map_numpy
s, y = np.load(sys.argv[1]), np.load(sys.argv[2])
print(map_numpy(s, y))
"""


def cli_peers(args, report):
    """mAP@class + mAP@sample as commands on .npy files: twoway map (both builds) against the authors'
    numpy AP loop run as a script; median wall time of 5 runs each (start-up and file reading included)."""
    import subprocess
    base = "target/bench-data"
    os.makedirs(base, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    print("\n## mAP as commands on .npy files (median of 5 runs; ratio = numpy time / twoway time)\n")
    print("| size | .npy types | twoway (full build) | twoway (torch-free) | numpy AP loop (python) | ratio full / torch-free |")
    print("|---|---|---:|---:|---:|---:|")
    for rows, cols, pos, unk in MAP_SIZES:
        size = f"{rows}x{cols}"
        for types, suffix in [("f64", ""), ("f32 / int8", "_f32_i8")]:
            sp, yp = os.path.join(base, f"scores_{size}{suffix}.npy"), os.path.join(base, f"targets_{size}{suffix}.npy")
            if not os.path.exists(sp):
                s, y = batch(rows, cols, pos, unk, 2)
                np.save(sp, s.astype(np.float32) if suffix else s)
                np.save(yp, y.astype(np.int8) if suffix else y)

            def median(cmd):
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    times.append(time.perf_counter() - t)
                return statistics.median(times)
            full = median([args.twoway, "map", "--scores", sp, "--targets", yp]) if os.path.exists(args.twoway) else None
            lite = median([args.twoway_lite, "map", "--scores", sp, "--targets", yp]) if os.path.exists(args.twoway_lite) else None
            peer = median([sys.executable, "-c", MAP_PEER, sp, yp, here])
            r = lambda t: f"{peer / t:.1f}x" if t else "-"
            print(f"| {size} | {types} | {fmt(full)} | {fmt(lite)} | {fmt(peer)} | {r(full)} / {r(lite)} |")
            report["cli"].append({"size": size, "types": types, "full_s": full, "torch_free_s": lite, "numpy_s": peer})


def data_peers(args, budget, report):
    from PIL import Image
    torch.set_num_threads(1)
    base = "target/bench-data"
    photo = os.path.join(base, "photo_640x480.jpg")
    print("\n## Data pipeline (median; ratios are the peer's time over ours)\n")
    print("| what | twoway | torchvision + PIL | ratio |")
    print("|---|---:|---:|---:|")
    if os.path.exists(photo):
        for name, tf in [("train_transform", release_train_transform()), ("eval_transform", release_eval_transform())]:
            def one():
                with open(photo, "rb") as f:
                    tf(Image.open(f).convert("RGB"))
            peer = timeit(one, 200, budget)
            ours = criterion(args.criterion, "data", name, "jpeg_640x480")
            ratio = f"{peer / ours:.2f}x" if ours else "-"
            print(f"| {name} (decode + transform, 640x480 JPEG, 1 core) | {fmt(ours)} | {fmt(peer)} | {ratio} |")
            report["data"].append({"what": name, "ours_s": ours, "peer_s": peer})
    folder = os.path.join(base, "loader/coco/train2014")
    if os.path.isdir(folder):
        import json as _json
        with open(os.path.join(base, "loader/coco/annotations/instances_train2014.json")) as f:
            coco = _json.load(f)
        annotated = {a["image_id"] for a in coco["annotations"]}
        files = [os.path.join(folder, im["file_name"]) for im in coco["images"] if im["id"] in annotated]
        loader = torch.utils.data.DataLoader(Files(files, release_train_transform()), batch_size=32, num_workers=2,
                                             persistent_workers=True)

        def one_pass():
            for _ in loader:
                pass
        peer = timeit(one_pass, 5, budget)
        ours = criterion(args.criterion, "loader", "train_2workers", "coco_128")
        n = len(files)
        ratio = f"{peer / ours:.2f}x" if ours else "-"
        ips = lambda t: "-" if not t else f"{n / t:.0f} images/s"
        print(f"| loader, 2 workers, {n} JPEGs, batch 32 | {ips(ours)} | {ips(peer)} | {ratio} |")
        report["data"].append({"what": "loader_2workers", "ours_s": ours, "peer_s": peer, "images": n})
    if os.path.exists(args.twoway):
        root = os.path.join(base, "coco-big")
        ann = os.path.join(root, "coco/annotations/instances_train2014.json")
        big_coco(ann)
        out = os.path.join(base, "coco-big-labels.npy")
        ours_t, ours_m = measured([args.twoway, "data", "labels", "--dataset", "coco", "--split", "train2014",
                                   "--data-root", root, "--out", out])
        peer_t, peer_m = measured([sys.executable, "-c", COCO_LABELS_PEER, ann])
        size = os.path.getsize(ann) / 1e6
        print(f"| COCO labels, {size:.0f} MB instances file (as commands) | {ours_t:.2f} s, {ours_m:.0f} MB peak | "
              f"{peer_t:.2f} s, {peer_m:.0f} MB peak (pycocotools) | {peer_t / ours_t:.2f}x |")
        report["data"].append({"what": "coco_labels", "ours_s": ours_t, "ours_peak_mb": ours_m, "peer_s": peer_t,
                               "peer_peak_mb": peer_m, "file_mb": size})


if __name__ == "__main__":
    main()
