"""The monitoring store on SQLite (the PostgreSQL run is in tests/integration/test_monitor_postgres.py):
records, all-or-none feedback, windows, NaN round trips, history, events, the action lease."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from modelserve.monitor.errors import StoreError
from modelserve.monitor.store import PredictionRecord, Store


def _records(model: str, n: int, *, version: str = "1", start: float = 0.0) -> list[PredictionRecord]:
    return [
        PredictionRecord(
            id=f"{model}-{version}-{i}",
            model=model,
            version=version,
            created_at=start + i,
            latency_ms=float(i),
            features=np.array([i, math.nan], dtype=np.float32).tobytes(),
            prediction="a" if i % 2 else "b",
            confidence=0.9,
        )
        for i in range(n)
    ]


def exercise(store: Store) -> None:
    """The contract, for any backend."""
    store.add_predictions(_records("m", 10) + _records("m", 5, version="2", start=100) + _records("other", 3))
    assert store.models() == ["m", "other"]
    assert store.count("m") == 15 and store.count("nothing") == 0

    # Feedback: all or none, only the model's own predictions.
    assert store.label("m", {"m-1-0": "b", "nope": "a"}) == ["nope"]
    assert store.label("m", {"other-1-0": "a"}) == ["other-1-0"]
    assert store.labelled("m", limit=10) == []
    assert store.label("m", {f"m-1-{i}": "b" for i in range(6)}, at=1000.0) == []
    assert store.label("m", {"m-2-0": "a"}, at=2000.0) == []
    window = store.labelled("m", limit=3)
    assert [w.version for w in window] == ["2", "1", "1"]  # newest label first
    assert len(store.labelled("m", limit=100)) == 7
    assert len(store.labelled("m", limit=100, since=1500.0)) == 1
    # One version's window is its own latest labels, however the versions interleave.
    assert [w.version for w in store.labelled("m", limit=3, version="1")] == ["1", "1", "1"]
    assert len(store.labelled("m", limit=100, version="2")) == 1

    # Inputs come back as served, missing values as NaN, newest first.
    live = store.live_features("m", "1", limit=4)
    assert live.shape == (4, 2) and np.isnan(live[:, 1]).all()
    assert live[:, 0].tolist() == [9.0, 8.0, 7.0, 6.0]
    assert len(store.live_features("m", "9", limit=4)) == 0

    traffic = store.traffic("m")
    assert traffic["predictions"] == 15 and traffic["labelled"] == 7
    assert traffic["by_version"] == {"1": 10, "2": 5}
    assert traffic["latency_ms"]["p50"] is not None

    store.add_snapshot("m", 200, {"n": 7, "accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.4}, ["1"])
    store.add_snapshot("m", 200, {"n": 8, "accuracy": 0.6, "precision": 0.6, "recall": 0.6, "f1": 0.5}, ["1"])
    assert [h["f1"] for h in store.history("m", limit=10)] == [0.4, 0.5]  # oldest first
    assert [h["f1"] for h in store.history("m", limit=1)] == [0.5]

    store.add_event("m", "degradation", {"f1": 0.4})
    store.add_event("m", "retrain_started", {"argv": ["x"]})
    assert [e["kind"] for e in store.events("m", limit=10)] == ["degradation", "retrain_started"]
    assert [e["kind"] for e in store.events("m", limit=1)] == ["retrain_started"]
    assert store.events("m", limit=10)[0]["detail"] == {"f1": 0.4}

    # The lease: one holder at a time, free again after it expires.
    assert store.try_lease("m:drift", "replica-a", 60)
    assert not store.try_lease("m:drift", "replica-b", 60)
    assert not store.try_lease("m:drift", "replica-a", 60)
    assert store.try_lease("m:degradation", "replica-b", 0.05)
    time.sleep(0.1)
    assert store.try_lease("m:degradation", "replica-a", 60)


def test_sqlite_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/deep/dir/monitoring.sqlite")
    try:
        exercise(store)
    finally:
        store.close()
    # Reopened: the records are on disk.
    again = Store(f"sqlite:///{tmp_path}/deep/dir/monitoring.sqlite")
    assert again.traffic("m")["predictions"] == 15
    again.close()


def test_a_bad_url_is_a_store_error_naming_it() -> None:
    with pytest.raises(StoreError, match="nosuchdriver"):
        Store("nosuchdriver://x/y")
