#!/usr/bin/env python3
"""How much the data order moves the metrics: for the results of `twoway run --grid data-order`, per loss
and metric, the mean over seeds under each order and the paired difference release − shuffle (seeds pair
the runs: same initialisation and augmentation draws) with a two-sided paired t-test. Prints Markdown.
"""

import argparse
import json
import os
from collections import defaultdict

from scipy import stats


def load(root):
    """{(loss label, order): {seed: (mAP@class, mAP@sample)}} from the result files under root."""
    out = defaultdict(dict)
    for dirpath, _, names in os.walk(root):
        for name in names:
            if not (name.startswith("seed") and name.endswith(".json") and name[4:-5].isdigit()):
                continue
            with open(os.path.join(dirpath, name)) as f:
                r = json.load(f)
            cell = r["cell"]
            variant = cell.get("variant") or ""
            if not variant.startswith("data_order="):
                continue
            loss = cell["loss"] + (f"/{cell['way']}" if cell.get("way") else "")
            m = r["metrics"]
            out[(loss, variant.split("=", 1)[1])][cell["seed"]] = (m["map_class"], m["map_sample"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True)
    a = ap.parse_args()
    runs = load(a.results)
    losses = sorted({loss for loss, _ in runs})
    print("| loss | metric | shuffle (mean ± sd) | release (mean ± sd) | release − shuffle | paired t | p | seeds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for loss in losses:
        shuffle, release = runs.get((loss, "shuffle"), {}), runs.get((loss, "release"), {})
        seeds = sorted(set(shuffle) & set(release))
        if len(seeds) < 2:
            continue
        for k, metric in enumerate(["mAP@class", "mAP@sample"]):
            x = [shuffle[s][k] for s in seeds]
            y = [release[s][k] for s in seeds]
            d = [b - a for a, b in zip(x, y)]
            t = stats.ttest_rel(y, x)
            mean = lambda v: sum(v) / len(v)
            sd = lambda v: (sum((u - mean(v)) ** 2 for u in v) / (len(v) - 1)) ** 0.5
            print(
                f"| {loss} | {metric} | {mean(x):.2f} ± {sd(x):.2f} | {mean(y):.2f} ± {sd(y):.2f} | "
                f"{mean(d):+.2f} ± {sd(d):.2f} | {t.statistic:+.2f} | {t.pvalue:.3f} | {len(seeds)} |"
            )


if __name__ == "__main__":
    main()
