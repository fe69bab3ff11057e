"""Accuracy and weighted precision, recall and F1 over a window of labelled predictions: what
scikit-learn's ``*_score(average="weighted", zero_division=0)`` compute, in numpy (the API installs
no scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, kw_only=True)
class WindowMetrics:
    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def window_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> WindowMetrics | None:
    """None for an empty window; classes absent from a window count 0, not an error."""
    if not y_true:
        return None
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} labels for {len(y_pred)} predictions")
    labels, codes = np.unique(np.asarray([*y_true, *y_pred], dtype=object).astype(str), return_inverse=True)
    truth, pred = codes[: len(y_true)], codes[len(y_true) :]
    k = len(labels)
    tp = np.bincount(truth[truth == pred], minlength=k).astype(np.float64)
    support = np.bincount(truth, minlength=k).astype(np.float64)
    predicted = np.bincount(pred, minlength=k).astype(np.float64)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    weights = support / support.sum()
    return WindowMetrics(
        n=len(y_true),
        accuracy=float(tp.sum() / len(y_true)),
        precision=float(weights @ precision),
        recall=float(weights @ recall),
        f1=float(weights @ f1),
    )
