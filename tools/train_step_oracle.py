#!/usr/bin/env python3
"""An oracle for twoway's training step, as the authors' release runs it: a torchvision backbone with its
head replaced by a new `nn.Linear(features, classes)` (PyTorch's default initialisation), `--replicas`
data-parallel replicas written out by hand (each a copy of the model running its share of the batch forward
in train mode, with its own BatchNorm statistics and its own loss; the gradients averaged over the copies,
as DDP's all-reduce does; the BatchNorm buffers of replica 0 kept, as DDP's broadcast does), the two-way
loss (tools/oracle.py's, exact masking, Tp 4, Tn 1, both ways), and `torch.optim.SGD` with Nesterov
momentum 0.9 and weight decay 1e-4 over two parameter groups chosen by the head rule (`release`: names
containing `fc.` at lr_head, the rest at lr_head x backbone_lr_mult; `new_head`: the new Linear at
lr_head), all in float64 on CPU, for `--steps` steps on seeded batches.

It writes to --out: `initial.safetensors` (the whole model before the first step), `final.safetensors`
(after the last), `final_r1.safetensors` (after the same steps with one replica: what the replicas change),
`x_<k>.npy` / `y_<k>.npy` (step k's images and labels: 1 / 0 / -1), and `meta.json` (the hyper-parameters
and each step's loss, the mean of the replicas' losses). reproduce/tests/train_step.rs runs the same steps
through twoway's training code and compares.
"""
import copy
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import BACKBONES, randomize_batchnorm  # noqa: E402
from oracle import two_way  # noqa: E402


def state(model):
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", required=True, choices=sorted(BACKBONES))
    p.add_argument("--out", required=True)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--replicas", type=int, default=4)
    p.add_argument("--head-rule", choices=["release", "new_head"], default="release")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--lr-head", type=float, default=0.01)
    p.add_argument("--backbone-lr-mult", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, BACKBONES[a.backbone][0])(weights=None)
    randomize_batchnorm(model, a.seed)
    head = "classifier" if hasattr(model, "classifier") else "fc"
    features = getattr(model, head).in_features
    setattr(model, head, torch.nn.Linear(features, a.classes))
    model = model.double().train()
    os.makedirs(a.out, exist_ok=True)
    save_file(state(model), os.path.join(a.out, "initial.safetensors"))
    initial = state(model)
    g = torch.Generator().manual_seed(a.seed + 10)
    batches = []
    for k in range(a.steps):
        x = torch.randn(a.batch, 3, a.size, a.size, generator=g, dtype=torch.float64)
        u = torch.rand(a.batch, a.classes, generator=g, dtype=torch.float64)
        y = torch.where(u < 0.35, 1.0, torch.where(u < 0.45, -1.0, 0.0)).double()
        np.save(os.path.join(a.out, f"x_{k}.npy"), x.numpy())
        np.save(os.path.join(a.out, f"y_{k}.npy"), y.numpy())
        batches.append((x, y))

    def train(replicas):
        model.load_state_dict(initial)
        if a.head_rule == "release":
            in_head = lambda n: "fc." in n
        else:
            in_head = lambda n: n.startswith(head + ".")
        head_params = [p for n, p in model.named_parameters() if in_head(n)]
        trunk_params = [p for n, p in model.named_parameters() if not in_head(n)]
        opt = torch.optim.SGD(
            [
                {"params": trunk_params, "lr": a.lr_head * a.backbone_lr_mult},
                {"params": head_params, "lr": a.lr_head},
            ],
            lr=a.lr_head,
            momentum=a.momentum,
            nesterov=True,
            weight_decay=a.weight_decay,
        )
        losses = []
        for x, y in batches:
            copies = [copy.deepcopy(model) for _ in range(replicas)]
            chunk = a.batch // replicas
            total = 0.0
            for r, m in enumerate(copies):
                m.zero_grad()
                loss = two_way(m(x[r * chunk:(r + 1) * chunk]), y[r * chunk:(r + 1) * chunk], 4.0, 1.0, "both", "exact")
                loss.backward()
                total += loss.item()
            with torch.no_grad():
                named = [dict(m.named_parameters()) for m in copies]
                for n, p in model.named_parameters():
                    p.grad = sum(nm[n].grad for nm in named) / replicas
                # Replica 0's BatchNorm buffers (DDP broadcasts rank 0's).
                buffers = dict(copies[0].named_buffers())
                for n, b in model.named_buffers():
                    b.copy_(buffers[n])
            opt.step()
            losses.append(total / replicas)
        return losses

    losses = train(1)
    save_file(state(model), os.path.join(a.out, "final_r1.safetensors"))
    losses = train(a.replicas)
    save_file(state(model), os.path.join(a.out, "final.safetensors"))
    meta = {
        "backbone": a.backbone, "head": head, "classes": a.classes, "steps": a.steps, "losses": losses,
        "lr_head": a.lr_head, "backbone_lr_mult": a.backbone_lr_mult, "momentum": a.momentum,
        "weight_decay": a.weight_decay, "nesterov": True, "replicas": a.replicas, "head_rule": a.head_rule,
    }
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    sys.exit(main())
