"""Loading training tables and inferring their feature spec.

load: CSV / JSON / Parquet (anything else is refused by name). Cleaning, each step an option with a
report, is ``tabular_clean``. Then infer the feature spec; ``example_table`` generates a table.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.export.errors import SourceUnavailableError

logger = logging.getLogger(__name__)

READERS = {".csv": "read_csv", ".json": "read_json", ".parquet": "read_parquet", ".pq": "read_parquet"}
DATETIME_COLUMN = "created_at"


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
