"""Loading and cleaning training tables, without leaking test rows into the imputation.

load: CSV / JSON / Parquet (anything else is refused by name). clean: drop duplicate rows, fill
missing numbers with the column mean (training data only; at serving time the graph's imputer
handles nulls), drop rows outside 1.5 IQR on numeric feature columns. Then infer the feature spec.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.export.errors import SourceUnavailableError

logger = logging.getLogger(__name__)

READERS = {".csv": "read_csv", ".json": "read_json", ".parquet": "read_parquet", ".pq": "read_parquet"}
DATETIME_COLUMN = "created_at"
# At most this share of rows may go as outliers; beyond it the rule is wrong for the data.
MAX_OUTLIER_SHARE = 0.5


def load_table(path: Path) -> Any:
    """A pandas DataFrame from ``path``; a clear error for missing files and unknown formats."""
    import pandas as pd

    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SourceUnavailableError(f"{path}: unsupported format '{path.suffix}'; use {', '.join(READERS)}")
    if not path.is_file():
        raise SourceUnavailableError(f"{path}: no such file")
    try:
        frame = getattr(pd, reader)(path)
    except (ValueError, OSError, ImportError) as exc:
        raise SourceUnavailableError(f"{path}: cannot read as {path.suffix[1:]}: {exc}") from exc
    if frame.empty:
        raise SourceUnavailableError(f"{path}: no rows")
    return frame


def clean(frame: Any, target: str, *, drop: Sequence[str] = ()) -> Any:
    if target not in frame.columns:
        raise SourceUnavailableError(
            f"target column '{target}' not in the data (columns: {list(frame.columns)})"
        )
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise SourceUnavailableError(f"cannot drop {missing}: not in the data")
    frame = frame.drop(columns=list(drop)).drop_duplicates().dropna(subset=[target])
    numeric = [c for c in frame.select_dtypes(include=[np.number]).columns if c != target]
    frame[numeric] = frame[numeric].fillna(frame[numeric].mean())
    keep = np.ones(len(frame), dtype=bool)
    for column in numeric:
        q1, q3 = frame[column].quantile(0.25), frame[column].quantile(0.75)
        iqr = q3 - q1
        keep &= frame[column].between(q1 - 1.5 * iqr, q3 + 1.5 * iqr).to_numpy()
    if keep.mean() < 1 - MAX_OUTLIER_SHARE:
        logger.warning("the IQR rule would drop %.0f%% of rows; keeping them all", 100 * (1 - keep.mean()))
    else:
        logger.info("dropped %d outlier rows of %d", int((~keep).sum()), len(frame))
        frame = frame[keep]
    return frame.reset_index(drop=True)


def infer_spec(frame: Any, target: str) -> FeatureSpec:
    """Numeric columns stay numeric, ``created_at`` becomes time parts, the rest are categorical."""
    import pandas as pd

    fields = []
    for column in frame.columns:
        if column == target:
            continue
        series = frame[column]
        if column == DATETIME_COLUMN:
            pd.to_datetime(series)  # fails here, at training time, if it is not a date column
            fields.append(FieldSpec(name=column, kind="datetime"))
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            fields.append(FieldSpec(name=column, kind="numeric"))
        else:
            categories = tuple(sorted(series.dropna().astype(str).unique()))
            fields.append(FieldSpec(name=column, kind="categorical", categories=categories))
    classes = tuple(sorted(frame[target].astype(str).unique()))
    return FeatureSpec(fields=tuple(fields), target=target, classes=classes)


def example_table(rows: int = 600, *, seed: int = 0) -> Any:
    """A generated table with the example's columns (user_age, user_activity, category, created_at).

    The label depends on activity, age x activity and category, so a model has something to learn.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.normal(38, 12, rows).clip(16, 90).round()
    activity = rng.gamma(2.0, 3.0, rows).round(2)
    category = rng.choice(["books", "games", "music", "sports"], rows, p=[0.4, 0.3, 0.2, 0.1])
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, rows), unit="min")
    amount = rng.lognormal(3, 0.6, rows).round(2)
    score = 0.35 * activity + 0.004 * age * activity + np.where(category == "games", 1.5, 0.0)
    score += 0.8 * (created.hour >= 18) + rng.normal(0, 1.0, rows)
    label = np.where(score > np.quantile(score, 0.5), "engaged", "casual")
    frame = pd.DataFrame(
        {
            "user_id": np.arange(rows),
            "user_age": age,
            "user_activity": activity,
            "category": category,
            "created_at": created.astype(str),
            "amount": amount,
            "segment": label,
        }
    )
    frame.loc[rng.random(rows) < 0.03, "user_age"] = np.nan  # missing numbers, to be imputed in the graph
    return frame
