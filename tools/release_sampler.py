#!/usr/bin/env python3
"""The release's training batches, by PyTorch itself: an MS-COCO instances file's dataset index order as the
release builds it (`list(coco.imgToAnns.keys())`: the images in the order of their first annotation),
sampled by `DistributedSampler(dataset, num_replicas=R, rank=r)` with its defaults (shuffle, seed 0) and
`set_epoch` never called, each rank batched by a `DataLoader(batch_size=B // R, drop_last=True)`.

Prints JSON: {"<epoch>": [[[image ids of rank 0], ..., [rank R-1]], ...]} for each --epochs entry, the
independent side of the `twoway data order` test (reproduce/tests/datasets.rs).
"""

import argparse
import contextlib
import io
import json

import torch
from pycocotools.coco import COCO
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler


class Ids(Dataset):
    """The image ids in the dataset's index order (the sample a loader would decode)."""

    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i]


def index_order(path):
    # As the release's dataset: pycocotools' COCO index, its images in `imgToAnns` key order.
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    return [str(i) for i in coco.imgToAnns.keys()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--batch-size", type=int, required=True, help="the global batch (B); each rank gets B // R")
    ap.add_argument("--epochs", default="0")
    a = ap.parse_args()
    dataset = Ids(index_order(a.annotations))
    out = {}
    loaders = []
    for rank in range(a.replicas):
        sampler = DistributedSampler(dataset, num_replicas=a.replicas, rank=rank)
        loaders.append(DataLoader(dataset, batch_size=a.batch_size // a.replicas, sampler=sampler, drop_last=True))
    for epoch in [int(e) for e in a.epochs.split(",")]:
        # As the release: no sampler.set_epoch(epoch), so every epoch draws the same permutation.
        ranks = [[list(batch) for batch in loader] for loader in loaders]
        out[str(epoch)] = [list(step) for step in zip(*ranks)]
    print(json.dumps(out))


if __name__ == "__main__":
    torch.manual_seed(12345)  # the launcher's --seed: it must not move the samplers' order
    main()
