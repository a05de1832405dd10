"""The spec as data: the paper's published numbers, and the spec's files (losses, metrics, recipes,
conformance bounds, ...), test vectors and built-in grids, as the ``twoway`` command embeds them.

>>> twoway.spec.published(dataset="coco", backbone="resnet50", metric="map_class")
[{'table': 'main', 'dataset': 'coco', 'backbone': 'resnet50', 'loss': 'softmax', ...}, ...]
>>> twoway.spec.published(as_frame=True)   # a pandas DataFrame (needs pandas)
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from . import _native

__all__ = ["FILES", "file", "grids", "losses", "metrics", "published", "recipes", "vectors"]

#: The spec's data files.
FILES = tuple(_native.spec_files())


def published(*, as_frame: bool = False, **where: Any) -> Any:
    """Every published number as records ``{"table", "dataset", "backbone", "loss", "way", "metric",
    "value"}`` (``table`` is ``"main"`` or ``"ways"``; ``way`` is None for the element-wise losses), in the
    paper's order, optionally filtered by field (``published(dataset="coco", loss="twoway")``). With
    ``as_frame=True``, a pandas DataFrame of the same records."""
    columns = ["table", "dataset", "backbone", "loss", "way", "metric", "value"]
    records: List[Dict[str, Any]] = [{k: r[k] for k in columns} for r in json.loads(_native.published())]
    fields = set(columns)
    unknown = sorted(set(where) - fields)
    if unknown:
        raise ValueError(f"published(): no field {', '.join(unknown)}; the fields are {', '.join(sorted(fields))}")
    records = [r for r in records if all(r[k] == v for k, v in where.items())]
    if not as_frame:
        return records
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError("published(as_frame=True) needs pandas: pip install pandas") from e
    return pd.DataFrame.from_records(records, columns=columns)


def file(name: str) -> Dict[str, Any]:
    """One of the spec's data files (``"losses"`` or ``"losses.yaml"``, ...; see :data:`FILES`) as data."""
    return json.loads(_native.spec_file(name))


def losses() -> Dict[str, Any]:
    """The loss definitions (``losses.yaml``): formulas, parameters and their defaults, with sources."""
    return file("losses.yaml")


def metrics() -> Dict[str, Any]:
    """The metric definitions (``metrics.yaml``)."""
    return file("metrics.yaml")


def recipes() -> Dict[str, Any]:
    """The training recipes (``recipes.yaml``)."""
    return file("recipes.yaml")


def vectors() -> Dict[str, Any]:
    """The spec's test vectors, by file (``twoway.yaml``, ``softmax.yaml``, ``elementwise.yaml``,
    ``metrics.yaml``)."""
    return json.loads(_native.vectors())


def grids() -> Dict[str, Any]:
    """The built-in grids (``embedded``, ``paper``, ...), by name."""
    return json.loads(_native.grids())
