"""Store upkeep on SQLite: batched feedback (each request all or none), retention by age and by
rows, a deleted database noticed and recreated; the feedback batcher shares one write."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from modelserve.monitor.feedback import FeedbackBatcher
from modelserve.monitor.store import PredictionRecord, Store
from modelserve.monitor.upkeep import Upkeep


def _records(model: str, n: int, start: float = 0.0) -> list[PredictionRecord]:
    return [
        PredictionRecord(
            id=f"{model}-{i}",
            model=model,
            version="1",
            created_at=start + i,
            latency_ms=1.0,
            features=np.array([i, math.nan], dtype=np.float32).tobytes(),
            prediction="a",
            confidence=0.9,
        )
        for i in range(n)
    ]


def test_feedback_requests_share_a_transaction_and_each_is_all_or_none(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    store.add_predictions(_records("m", 5) + _records("other", 2))
    missing = store.label_many("m", [{"m-0": "a", "m-1": "b"}, {"m-2": "a", "nope": "b"}, {"other-0": "a"}])
    assert missing == [[], ["nope"], ["other-0"]]
    labelled = {r.prediction + r.label for r in store.labelled("m", limit=10)}
    assert store.traffic("m")["labelled"] == 2 and labelled == {"aa", "ab"}  # m-2 was not written


def test_retention_removes_old_predictions_and_keeps_the_latest_rows(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    store.add_predictions(_records("m", 100) + _records("other", 10))
    assert store.prune("m", before=20.0, keep=1000) == 20  # created_at 0..19
    assert store.prune("m", before=0.0, keep=30) == 50  # 80 left, keep the 30 latest
    assert store.count("m") == 30 and store.count("other") == 10
    assert store.traffic("m")["first_at"] == 70.0


def test_a_deleted_database_is_noticed_reopened_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    store = Store(f"sqlite:///{path}")
    upkeep = Upkeep(store, retention_s=1e9, max_rows=10)
    store.add_predictions(_records("m", 3))
    assert upkeep.check() is None and upkeep.health.status == "ok"
    path.unlink()
    assert store.file_changed() == f"{path} was deleted"
    assert upkeep.check() == f"{path} was deleted"
    assert upkeep.health.losses == 1 and "lost and recreated" in upkeep.health.status
    assert path.is_file() and store.count("m") == 0  # a fresh database at the same place
    store.add_predictions(_records("m", 2))
    assert store.count("m") == 2 and upkeep.check() is None


def test_concurrent_feedback_is_written_in_one_batch_and_judged_once() -> None:
    writes: list[int] = []
    judged: list[str] = []

    async def write(model: str, requests: Sequence[Mapping[str, str]]) -> list[list[str]]:
        writes.append(len(requests))
        await asyncio.sleep(0.01)
        return [["x"] if "x" in labels else [] for labels in requests]

    async def judge(model: str) -> dict[str, object]:
        judged.append(model)
        return {"degraded": False}

    async def go() -> list[object]:
        batcher = FeedbackBatcher(write, judge)
        calls = [batcher.submit("m", {f"id{i}": "a"}) for i in range(7)] + [batcher.submit("m", {"x": "a"})]
        return list(await asyncio.gather(*calls))

    results = asyncio.run(go())
    assert writes == [8]  # eight requests arriving together: one transaction ...
    assert judged == ["m"]  # ... and one judgement of the window after them
    assert results[0] == ([], {"degraded": False}) and results[-1] == (["x"], None)


def test_a_request_the_store_refuses_fails_alone_not_its_whole_batch() -> None:
    writes: list[int] = []

    async def write(model: str, requests: Sequence[Mapping[str, str]]) -> list[list[str]]:
        writes.append(len(requests))
        await asyncio.sleep(0.01)
        if any("bad" in labels for labels in requests):
            raise RuntimeError("the store refused the transaction")
        return [[] for _ in requests]

    async def judge(model: str) -> dict[str, object]:
        return {"degraded": False}

    async def go() -> list[object]:
        batcher = FeedbackBatcher(write, judge)
        calls = [batcher.submit("m", {f"id{i}": "a"}) for i in range(4)] + [batcher.submit("m", {"bad": "a"})]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(go())
    assert writes == [5, 1, 1, 1, 1, 1]  # the shared try, then each request on its own
    assert results[:4] == [([], {"degraded": False})] * 4
    assert isinstance(results[4], RuntimeError)
