"""Type stubs of twoway's native module (the Rust engines behind twoway.metrics, twoway.reference,
twoway.testing and twoway.spec). Use those modules; these functions take arrays already checked there."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

__version__: str
DRIVER_SOURCE: str

def evaluate(
    scores: np.ndarray, targets: np.ndarray, ties: str, denominator: str
) -> Tuple[Optional[float], Optional[float], np.ndarray, np.ndarray]:
    """(mAP@class, mAP@sample, per-class AP, per-sample AP), percent; None / NaN where no positive."""

def thresholded(
    scores: np.ndarray,
    targets: np.ndarray,
    threshold: Optional[float],
    top_k: Optional[int],
    thresholds: Optional[List[float]],
    on_scores: bool,
    score_kind: str,
    unknown: str,
    undefined: str,
) -> Dict[str, Any]:
    """cp, cr, cf1, op, or, of1, f1_mean (None where nothing to average), counts and per-class tp/fp/fn."""

def tune(
    scores: np.ndarray, targets: np.ndarray, per_class: bool, score_kind: str, unknown: str
) -> Tuple[List[float], List[float], List[Optional[float]]]:
    """Tuned thresholds (probabilities, and on the score scale) and the F1 each gives on the tuning split."""

def check_rules(ties: str, denominator: str) -> None:
    """Raises ValueError for an unknown tie rule or denominator."""

class Accumulator:
    """The buffers of twoway.metrics.MeanAP."""

    def __init__(self, num_classes: int, capacity: int = 0) -> None: ...
    def update(self, scores: np.ndarray, targets: np.ndarray) -> None: ...
    def compute(
        self, ties: str, denominator: str
    ) -> Tuple[Optional[float], Optional[float], np.ndarray, np.ndarray]: ...
    def merge(self, other: "Accumulator") -> None: ...
    def reset(self) -> None: ...
    def copy(self) -> "Accumulator": ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> "Accumulator": ...
    @property
    def num_classes(self) -> int: ...
    @property
    def num_samples(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def nbytes(self) -> int: ...
    def __len__(self) -> int: ...

def loss(name: str, logits: np.ndarray, targets: np.ndarray, params: str) -> Tuple[float, np.ndarray]:
    """The reference loss's value and gradient (float64); params is a JSON object."""

def cases(suite_args: str) -> List[Dict[str, Any]]:
    """The conformance suite's cases with their expected numbers; suite_args is a JSON object (loss,
    metric, params, ties, dtype, cases, random, seed, seeds)."""

def conform(
    call: Callable[[str, np.ndarray, np.ndarray], Any],
    label: str,
    suite_args: str,
    allow: List[str],
    only: List[str],
) -> Tuple[str, str]:
    """Runs the suite, `call` answering each case; (the report as JSON, as text)."""

def published() -> str:
    """The published numbers as a JSON list of records."""

def spec_files() -> List[str]: ...
def spec_file(name: str) -> str: ...
def vectors() -> str: ...
def grids() -> str: ...
