"""Cleaning a training table before the tabular exporter trains on it: every step an option, every
change counted in a report that the export prints and stores in the version's contract.

Steps, in this order (feature columns: every column but the target and the dropped ones):

1. **missing target**: rows without a label are dropped (nothing to learn from; not an option).
2. **duplicates** ``keep`` (default) | ``drop``: exact duplicate rows. Kept by default: repeated
   events are often real observations, and dropping them changes the class balance unseen.
3. **missing values** in feature columns, ``model`` (default) | ``mean`` | ``drop`` | ``error``:
   ``model`` leaves them for the pipeline's own imputer, which is inside the ONNX graph (numbers:
   the median; categories: unknown; date parts: the median), so training fills exactly as serving
   fills a null in a request. ``mean`` fills numeric columns with their mean before training (the
   graph still fills nulls at serving with its median: a small train/serve difference).
   ``drop`` drops rows with any missing feature; ``error`` refuses the table, naming the columns.
4. **outliers** ``none`` (default) | ``iqr``: ``iqr`` drops rows with a numeric feature outside
   [Q1 - k IQR, Q3 + k IQR] (k: ``iqr_factor``, 1.5); a missing value is no outlier. Off by
   default: the served model meets such rows in requests, and a rule that fits one column's
   distribution drops real data in another. Where it would drop more than half the rows it is not
   applied (the rule does not fit the data), and the report says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelserve.export.errors import SourceUnavailableError

logger = logging.getLogger(__name__)

OUTLIERS = ("none", "iqr")
MISSING = ("model", "mean", "drop", "error")
DUPLICATES = ("keep", "drop")
# At most this share of rows may go as outliers; beyond it the rule is wrong for the data.
MAX_OUTLIER_SHARE = 0.5


class MissingValuesError(SourceUnavailableError):
    """``missing=error`` and the table has missing feature values (the message names the columns)."""


@dataclass(frozen=True, kw_only=True)
class CleaningOptions:
    outliers: str = "none"
    iqr_factor: float = 1.5
    missing: str = "model"
    duplicates: str = "keep"

    def __post_init__(self) -> None:
        for name, value, choices in (
            ("outliers", self.outliers, OUTLIERS),
            ("missing", self.missing, MISSING),
            ("duplicates", self.duplicates, DUPLICATES),
        ):
            if value not in choices:
                raise ValueError(f"--{name} {value!r}: choose {' | '.join(choices)}")
        if not self.iqr_factor > 0:
            raise ValueError(f"--iqr-factor {self.iqr_factor} must be positive")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CleaningOptions:
        return cls(**{k: raw[k] for k in ("outliers", "iqr_factor", "missing", "duplicates") if k in raw})


@dataclass(frozen=True, kw_only=True)
class CleaningStep:
    """One step's effect: rows dropped or values filled, per column, and why."""

    step: str
    rows_dropped: int = 0
    values_filled: int = 0
    columns: dict[str, int] = field(default_factory=dict)  # column -> its rows/values this step touched
    why: str


@dataclass(frozen=True, kw_only=True)
class CleaningReport:
    rows_in: int
    rows_out: int
    options: CleaningOptions
    steps: tuple[CleaningStep, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        o = self.options
        factor = f" x{o.iqr_factor:g}" if o.outliers == "iqr" else ""
        head = (
            f"cleaning: {self.rows_in} rows in, {self.rows_out} out "
            f"(--outliers {o.outliers}{factor}, --missing {o.missing}, --duplicates {o.duplicates})"
        )
        return [head, *(f"  {s.step}: {s.why}{_columns(s.columns)}" for s in self.steps)]


def _columns(columns: dict[str, int]) -> str:
    return f" [{', '.join(f'{c}: {n}' for c, n in columns.items())}]" if columns else ""


def _counts(mask: Any) -> dict[str, int]:
    """Per column of a boolean frame, how many rows are set (columns with none left out)."""
    return {str(c): int(n) for c, n in mask.sum().items() if n}


def clean(
    frame: Any, target: str, *, drop: Sequence[str] = (), options: CleaningOptions | None = None
) -> tuple[Any, CleaningReport]:
    """The table ``options`` asks for, and what each step did to it."""
    o = options or CleaningOptions()
    if target not in frame.columns:
        raise SourceUnavailableError(
            f"target column '{target}' not in the data (columns: {list(frame.columns)})"
        )
    missing_drop = [c for c in drop if c not in frame.columns]
    if missing_drop:
        raise SourceUnavailableError(f"cannot drop {missing_drop}: not in the data")
    frame = frame.drop(columns=list(drop))
    rows_in = len(frame)
    unlabeled = frame[target].isna()
    frame = frame[~unlabeled]
    steps = [
        CleaningStep(
            step="missing target",
            rows_dropped=int(unlabeled.sum()),
            why=f"{int(unlabeled.sum())} rows without a '{target}' dropped (always: nothing to learn)",
        )
    ]
    steps.append(_duplicates(frame, o))
    frame = frame.drop_duplicates() if o.duplicates == "drop" else frame
    features = [c for c in frame.columns if c != target]
    numeric = list(frame[features].select_dtypes(include=[np.number]).columns)
    frame, step = _missing(frame, features, numeric, o)
    steps.append(step)
    frame, step = _outliers(frame, numeric, o)
    steps.append(step)
    report = CleaningReport(rows_in=rows_in, rows_out=len(frame), options=o, steps=tuple(steps))
    for line in report.lines():
        logger.info("%s", line)
    return frame.reset_index(drop=True), report


def _duplicates(frame: Any, o: CleaningOptions) -> CleaningStep:
    count = int(frame.duplicated().sum())
    if o.duplicates == "drop":
        return CleaningStep(step="duplicates", rows_dropped=count, why=f"{count} duplicate rows dropped")
    return CleaningStep(step="duplicates", why=f"{count} duplicate rows kept (--duplicates drop drops them)")


def _missing(
    frame: Any, features: list[str], numeric: list[str], o: CleaningOptions
) -> tuple[Any, CleaningStep]:
    absent = _counts(frame[features].isna())
    total = sum(absent.values())
    if o.missing == "error" and total:
        raise MissingValuesError(
            f"{total} missing values in feature columns {absent} and --missing error; "
            "choose --missing model (the graph imputes them), mean or drop"
        )
    if o.missing == "drop":
        rows = frame[features].isna().any(axis=1)
        step = CleaningStep(
            step="missing values",
            rows_dropped=int(rows.sum()),
            columns=absent,
            why=f"{int(rows.sum())} rows with a missing feature value dropped",
        )
        return frame[~rows], step
    if o.missing == "mean":
        filled = {c: n for c, n in absent.items() if c in numeric}
        frame = frame.copy()
        frame[numeric] = frame[numeric].fillna(frame[numeric].mean())
        left = total - sum(filled.values())
        rest = f"; {left} non-numeric left for the model's imputer" if left else ""
        why = f"{sum(filled.values())} numeric values filled with their column's mean{rest}"
        return frame, CleaningStep(
            step="missing values", values_filled=sum(filled.values()), columns=absent, why=why
        )
    why = f"{total} values left missing for the model's imputer (inside the graph, as at serving)"
    return frame, CleaningStep(step="missing values", columns=absent, why=why)


def _outliers(frame: Any, numeric: list[str], o: CleaningOptions) -> tuple[Any, CleaningStep]:
    if o.outliers == "none":
        return frame, CleaningStep(step="outliers", why="none removed (--outliers iqr removes them)")
    values = frame[numeric]
    q1, q3 = values.quantile(0.25), values.quantile(0.75)
    k = o.iqr_factor
    outside = (values.lt(q1 - k * (q3 - q1)) | values.gt(q3 + k * (q3 - q1))) & values.notna()
    rows = outside.any(axis=1).to_numpy()
    columns = _counts(outside)
    rule = f"outside Q1 - {k:g} IQR .. Q3 + {k:g} IQR in a numeric column"
    if len(frame) and rows.mean() > MAX_OUTLIER_SHARE:
        why = f"not applied: {rows.sum()} of {len(frame)} rows are {rule}: the rule does not fit this data"
        logger.warning("%s", why)
        return frame, CleaningStep(step="outliers", columns=columns, why=why)
    why = f"{int(rows.sum())} rows dropped {rule}"
    return frame[~rows], CleaningStep(step="outliers", rows_dropped=int(rows.sum()), columns=columns, why=why)
