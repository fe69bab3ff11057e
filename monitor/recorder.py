"""The prediction records on their way to the store: ``record`` is a list append on the request
path, ``flush`` writes the buffer (a background loop calls it every ``flush_s``). The buffer is
bounded: when the store is down or too slow, new records are counted in ``dropped`` and not kept,
so serving goes on."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import numpy as np

from modelserve.monitor.store import PredictionRecord
from modelserve.monitor.store_calls import StoreCalls
from modelserve.monitor.upkeep import Upkeep


class Recorder:
    def __init__(self, db: StoreCalls, upkeep: Upkeep, *, buffer_max: int) -> None:
        self._db, self.store = db, db.store
        self.upkeep = upkeep
        self.buffer_max = buffer_max
        self.dropped = 0
        self._buffer: list[PredictionRecord] = []
        self._flush_lock = asyncio.Lock()

    @property
    def backlog(self) -> int:
        return len(self._buffer)

    def record(
        self,
        model: str,
        version: str,
        features: np.ndarray,
        predictions: Sequence[str],
        confidences: Sequence[float],
        latency_ms: float,
    ) -> list[str]:
        """Queue one record per row; returns their prediction ids (for feedback)."""
        now = time.time()
        ids = [uuid.uuid4().hex for _ in predictions]
        if len(self._buffer) + len(ids) > self.buffer_max:
            self.dropped += len(ids)
            return ids
        rows = np.ascontiguousarray(features, dtype=np.float32)
        self._buffer.extend(
            PredictionRecord(
                id=pid,
                model=model,
                version=version,
                created_at=now,
                latency_ms=latency_ms,
                features=row.tobytes(),
                prediction=pred,
                confidence=float(conf),
            )
            for pid, row, pred, conf in zip(ids, rows, predictions, confidences, strict=True)
        )
        return ids

    async def flush(self) -> None:
        self.upkeep.check()  # one stat: a deleted SQLite file is reopened before we write to it
        async with self._flush_lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                await self._db(self.store.add_predictions, batch)
            except Exception:
                # Keep them for the next round (within the buffer's bound).
                room = max(self.buffer_max - len(self._buffer), 0)
                self.dropped += max(len(batch) - room, 0)
                self._buffer[:0] = batch[:room]
                raise
