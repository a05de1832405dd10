"""Every loss of the spec in float64, with its analytic gradient: twoway's pure-Rust reference, the
implementation the spec's vectors pin down and every other implementation is checked against.

>>> value, grad = twoway.reference.loss("twoway", logits, targets, tp=4.0, tn=1.0, way="both")

Losses and their parameters (absent ones take the spec's defaults, ``spec/data/losses.yaml``):

- ``"twoway"``: ``tp`` (4.0), ``tn`` (1.0), ``way`` (``"both"``, ``"class"``, ``"sample"``), ``mask``
  (``"exact"``; ``"official"``: the release's additive -100 offsets);
- ``"softmax"``: ``way`` (``"sample"``);
- ``"bce"``: ``reduction``;
- ``"focal"``: ``gamma``, ``alpha``, ``reduction``;
- ``"asl"``: ``gamma_neg``, ``gamma_pos``, ``clip``, ``eps``, ``focus_grad``, ``reduction``.

Targets are 1 (positive), 0 (negative) or -1 (unknown, excluded as the spec says).
"""

from __future__ import annotations

import json
from typing import Any, Tuple

import numpy as np

from . import _native
from ._arrays import as_array, same_shape

__all__ = ["LOSSES", "loss", "value"]

#: The spec's losses, by name.
LOSSES = ("twoway", "softmax", "bce", "focal", "asl")


def _f64(a: Any, role: str) -> np.ndarray:
    x = as_array(a, role)
    if x.ndim != 2:
        raise ValueError(f"{role} must be 2-D (samples x classes), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise TypeError(f"{role}: expected numbers, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=np.float64)


def loss(name: str, logits: Any, targets: Any, **params: Any) -> Tuple[float, np.ndarray]:
    """The loss ``name`` of ``logits`` against ``targets`` (both samples x classes, taken as float64) and
    its gradient with respect to the logits (a float64 array of the logits' shape).

    Raises ``ValueError`` for an unknown loss or parameter (naming the loss's parameters), a bad value
    (a non-positive temperature, ...), shapes that differ, a non-finite logit or a label outside
    {-1, 0, 1}, naming the entry."""
    x, y = _f64(logits, "logits"), _f64(targets, "targets")
    same_shape(x, y, "logits")
    return _native.loss(name, x, y, json.dumps(params))


def value(name: str, logits: Any, targets: Any, **params: Any) -> float:
    """The loss's value alone (see :func:`loss`)."""
    return loss(name, logits, targets, **params)[0]
