#!/usr/bin/env python3
"""An oracle for twoway's image transforms: torchvision's transforms on PIL images, the way the authors'
release applies them.

It writes to --out: a few images (`photo.jpg` 640 x 480 and `portrait.jpg` 375 x 500, JPEG quality 90;
`odd.png` 333 x 517), and for each of them
- `<name>.eval.npy`: torchvision's eval transform (Resize(256), CenterCrop(224), ToTensor, Normalize with
  ImageNet's mean and std), float32, 3 x 224 x 224;
- `<name>.crop.npy`: PIL's bilinear resize of a fixed window to 224 x 224 (what RandomResizedCrop does once
  it has drawn its window: `torchvision.transforms.functional.resized_crop`), uint8, 224 x 224 x 3;
and `windows.json` with those windows. reproduce/tests/transforms.rs compares twoway's transforms with them.
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as F

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def scene(w, h, seed):
    """A picture with smooth regions, edges and texture, so that resampling and JPEG both have work."""
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([
        128 + 90 * np.sin(x / 37.0 + c) * np.cos(y / 23.0 - c) + 30 * np.sin((x + y) / 5.0 + 2 * c) for c in range(3)
    ], axis=-1)
    for _ in range(12):
        x0, y0 = g.integers(0, w - 20), g.integers(0, h - 20)
        img[y0:y0 + g.integers(10, h // 3), x0:x0 + g.integers(10, w // 3)] = g.uniform(0, 255, 3)
    img += g.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    images = {"photo.jpg": (640, 480), "portrait.jpg": (375, 500), "odd.png": (333, 517)}
    windows = {"photo.jpg": [101, 37, 300, 411], "portrait.jpg": [0, 0, 375, 500], "odd.png": [13, 250, 97, 122]}
    evaluate = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)])
    for k, (name, (w, h)) in enumerate(images.items()):
        path = os.path.join(a.out, name)
        img = scene(w, h, k)
        if name.endswith(".jpg"):
            img.save(path, quality=90)
        else:
            img.save(path)
        img = Image.open(path).convert("RGB")  # what the release's loader does
        np.save(os.path.join(a.out, f"{name}.eval.npy"), evaluate(img).numpy().astype(np.float32))
        left, top, cw, ch = windows[name]
        crop = F.resized_crop(img, top, left, ch, cw, [224, 224], interpolation=T.InterpolationMode.BILINEAR)
        np.save(os.path.join(a.out, f"{name}.crop.npy"), np.asarray(crop, dtype=np.uint8))
    with open(os.path.join(a.out, "windows.json"), "w") as f:
        json.dump({"windows": windows, "mean": MEAN, "std": STD, "resize": 256, "crop": 224}, f, indent=1)


if __name__ == "__main__":
    main()
