"""twoway: the two-way multi-label loss (Kobayashi, CVPR 2023), verified.

- :mod:`twoway.metrics`: mAP@class and mAP@sample, exact and at native speed (numpy arrays or torch
  tensors, read in place), and :class:`~twoway.metrics.MeanAP`, a streaming accumulator for evaluation
  loops.
  :func:`~twoway.metrics.thresholded`: CP, CR, CF1, OP, OR, OF1 at a threshold or top-k, and
  :func:`~twoway.metrics.tune_thresholds`.
- :mod:`twoway.torch`: the loss and its baselines as ``torch.nn.Module`` s (imports torch).
- :mod:`twoway.reference`: every loss of the spec in float64 with its analytic gradient.
- :mod:`twoway.testing`: the spec's conformance suite inside pytest (``assert_conforms``).
- :mod:`twoway.spec`: the paper's published tables, the spec's vectors, recipes and grids as data.

Every number comes from twoway's Rust engines (the same as the ``twoway`` command's); importing
``twoway`` does not import torch.
"""

from . import _native, metrics, reference, spec, testing
from .metrics import MapReport, MeanAP, average_precision, evaluate, map_class, map_sample
from .metrics import ThresholdReport, thresholded, tune_thresholds

__version__: str = _native.__version__

__all__ = [
    "MapReport",
    "MeanAP",
    "ThresholdReport",
    "tune_thresholds",
    "thresholded",
    "average_precision",
    "evaluate",
    "map_class",
    "map_sample",
    "metrics",
    "reference",
    "spec",
    "testing",
    "__version__",
]
