"""Accuracy and weighted precision, recall and F1 over a window of
labelled predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score


@dataclass(frozen=True, kw_only=True)
class WindowMetrics:
    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def window_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> WindowMetrics | None:
    """None for an empty window; classes absent from a window count 0, not an error."""
    if not y_true:
        return None
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} labels for {len(y_pred)} predictions")
    return WindowMetrics(
        n=len(y_true),
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(precision_score(y_true, y_pred, average="weighted", zero_division=0)),
        recall=float(recall_score(y_true, y_pred, average="weighted", zero_division=0)),
        f1=float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
    )
