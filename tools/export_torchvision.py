#!/usr/bin/env python3
"""Exports a torchvision backbone's state_dict as safetensors, the weight file `twoway` loads.

The common case, on a machine with internet access (the weights the authors' release trained from:
`pretrained=True`, i.e. torchvision's IMAGENET1K_V1):

    .venv/bin/python tools/export_torchvision.py --backbone resnet50 --out ~/.cache/twoway/weights/resnet50.safetensors

It prints the file's sha256, which `twoway run` records in every result. Without internet access,
`--random-init` builds the model with torchvision's random initialisation instead (no download), for
fixtures and smoke runs; `--randomize-bn` also draws BatchNorm's running statistics and affine parameters,
so that a test of eval-mode BatchNorm is not a test of the identity. `--check-dir DIR` additionally writes,
for each `--sizes HxW`, a seeded N x 3 x H x W input (`input_HxW.npy`, f64) and torchvision's eval-mode
logits and pooled features computed in float64 from the file's values (`logits_HxW.npy`,
`features_HxW.npy`): what `twoway backbone forward` must reproduce.

Backbones take twoway's names (spec/data/backbones.yaml): every torchvision ResNet, ResNeXt, Wide ResNet,
DenseNet and RegNet by its torchvision name (resnet18, densenet121, regnet_x_400mf, ...), and the paper's
regnety_32gf / regnety_400mf keys.
"""
import argparse
import hashlib
import os
import sys

import numpy as np
import torch
import torchvision
import yaml
from safetensors.torch import save_file



def spec_backbones():
    """twoway name (and torchvision alias) -> (torchvision builder, weights entry), from spec/data/backbones.yaml."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "data", "backbones.yaml")
    with open(path) as f:
        entries = yaml.safe_load(f)
    out = {}
    for name, e in entries.items():
        if e.get("torchvision"):
            out[name] = (e["torchvision"], e["weights"]["entry"])
            out.setdefault(e["torchvision"], out[name])
    return out


BACKBONES = spec_backbones()
DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16}


def build(name, random_init, seed):
    builder, entry = BACKBONES[name]
    if random_init:
        torch.manual_seed(seed)
        return getattr(torchvision.models, builder)(weights=None)
    return getattr(torchvision.models, builder)(weights=entry.split(".")[1])


def randomize_batchnorm(model, seed):
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_atomic(tensors, path):
    tmp = f"{path}.tmp{os.getpid()}"
    save_file(tensors, tmp)
    os.replace(tmp, path)


def write_checks(model, state, sizes, batch, seed, out_dir):
    """Inputs and float64 eval-mode logits / features of the saved values."""
    os.makedirs(out_dir, exist_ok=True)
    model = model.double().eval()
    # The saved values, widened: the reference computes on exactly what the file holds.
    model.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()})
    feats = {}
    head = model.classifier if hasattr(model, "classifier") else model.fc
    hook = head.register_forward_hook(lambda mod, inp, out: feats.__setitem__("x", inp[0].detach()))
    g = torch.Generator().manual_seed(seed + 2)
    for size in sizes:
        h, w = (int(v) for v in size.lower().split("x"))
        x = torch.randn(batch, 3, h, w, generator=g, dtype=torch.float64)
        with torch.no_grad():
            logits = model(x)
        np.save(os.path.join(out_dir, f"input_{h}x{w}.npy"), x.numpy())
        np.save(os.path.join(out_dir, f"logits_{h}x{w}.npy"), logits.numpy())
        np.save(os.path.join(out_dir, f"features_{h}x{w}.npy"), feats["x"].numpy())
    hook.remove()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", required=True, choices=sorted(BACKBONES))
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument("--random-init", action="store_true", help="torchvision's random initialisation (no download)")
    p.add_argument("--randomize-bn", action="store_true", help="also draw BatchNorm statistics and affine parameters")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="f32", help="dtype of the saved tensors")
    p.add_argument("--check-dir", help="also write inputs and torchvision's float64 outputs here")
    p.add_argument("--sizes", default="224x224", help="comma-separated HxW sizes of the check inputs")
    p.add_argument("--batch", type=int, default=2, help="images per check input")
    a = p.parse_args(argv)
    if not a.out.endswith(".safetensors"):
        p.error("--out must end in .safetensors (twoway reads the format by its extension)")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = build(a.backbone, a.random_init, a.seed)
    if a.randomize_bn:
        randomize_batchnorm(model, a.seed)
    # Every tensor of the state_dict, num_batches_tracked included (twoway accepts and ignores it).
    state = {k: v.detach().to(DTYPES[a.dtype]).contiguous() if v.is_floating_point() else v.contiguous()
             for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    save_atomic(state, a.out)
    if a.check_dir:
        write_checks(model, state, a.sizes.split(","), a.batch, a.seed, a.check_dir)
    origin = "random init" if a.random_init else BACKBONES[a.backbone][1]
    print(f"{a.out}: {a.backbone} ({origin}, {a.dtype}), sha256 {sha256(a.out)}")


if __name__ == "__main__":
    sys.exit(main())
