"""Turning what users pass (numpy arrays, torch tensors, nested lists) into the arrays the native module
reads, copying only where it must."""

from __future__ import annotations

from typing import Any

import numpy as np

# The element types the engine reads in place.
SCORE_TYPES = (np.float32, np.float64)
TARGET_TYPES = (np.int8, np.int32, np.int64, np.uint8, np.bool_, np.float32, np.float64)


def _from_torch(a: Any) -> np.ndarray:
    """A CPU tensor as a numpy array sharing its memory; a CUDA (or other device) tensor copied to the
    host; float16 / bfloat16 widened to float32 (exact)."""
    import torch

    t = a.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if not t.is_contiguous():
        t = t.contiguous()
    return t.numpy()


def as_array(a: Any, role: str) -> np.ndarray:
    """`a` as a numpy array, without a copy where possible (a torch tensor on the CPU, a numpy array)."""
    if type(a).__module__.split(".")[0] == "torch":
        return _from_torch(a)
    if isinstance(a, np.ndarray):
        return a
    try:
        return np.asarray(a)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{role}: expected a numpy array, a torch tensor or nested lists, got {type(a).__name__}") from e


def scores_2d(a: Any, role: str = "scores") -> np.ndarray:
    """A 2-D float32 / float64 score matrix; float16 and integer scores are widened (a copy)."""
    s = as_array(a, role)
    if s.ndim != 2:
        raise ValueError(f"{role} must be 2-D (samples x classes), got shape {s.shape}")
    if s.dtype in SCORE_TYPES:
        return s
    if s.dtype == np.float16:
        return s.astype(np.float32)
    if np.issubdtype(s.dtype, np.integer) or s.dtype == np.bool_:
        return s.astype(np.float64)
    raise TypeError(f"{role}: expected float scores (float32 or float64), got dtype {s.dtype}")


def targets_2d(a: Any, role: str = "targets") -> np.ndarray:
    """A 2-D target matrix of 1 / 0 / -1 in a type the engine reads; others widened (a copy)."""
    t = as_array(a, role)
    if t.ndim != 2:
        raise ValueError(f"{role} must be 2-D (samples x classes), got shape {t.shape}")
    if t.dtype in TARGET_TYPES:
        return t
    if t.dtype == np.float16:
        return t.astype(np.float32)
    if np.issubdtype(t.dtype, np.signedinteger):
        return t.astype(np.int64)
    if np.issubdtype(t.dtype, np.unsignedinteger):
        # Unsigned values above the int64 range are not labels either way: clip keeps them invalid.
        return np.minimum(t, np.iinfo(np.int64).max).astype(np.int64)
    raise TypeError(f"{role}: expected labels 1 / 0 / -1 (int, bool or float), got dtype {t.dtype}")


def same_shape(s: np.ndarray, t: np.ndarray, values: str = "scores") -> None:
    if s.shape != t.shape:
        raise ValueError(f"{values} has shape {tuple(s.shape)} but targets has shape {tuple(t.shape)}: they must be the same")
