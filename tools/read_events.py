#!/usr/bin/env python3
"""Reads a TensorBoard run folder with TensorBoard's own event-file reader (every event file in it, in name
order, no deduplication) and prints JSON: {"files": N, "version": first file version, "scalars": {tag:
[[step, value], ...]}}. The independent side of the TensorBoard test (reproduce/tests/cli_cells.rs).
"""

import argparse
import json
import os

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    a = ap.parse_args()
    files = sorted(f for f in os.listdir(a.run) if "tfevents" in f)
    scalars, version = {}, None
    for name in files:
        for event in EventFileLoader(os.path.join(a.run, name)).Load():
            if event.HasField("file_version") and version is None:
                version = event.file_version
            for v in event.summary.value:
                if v.HasField("simple_value"):
                    value = v.simple_value
                else:  # the loader may migrate scalars to tensors
                    value = float(tensor_util.make_ndarray(v.tensor))
                scalars.setdefault(v.tag, []).append([event.step, value])
    print(json.dumps({"files": len(files), "version": version, "scalars": scalars}))


if __name__ == "__main__":
    main()
