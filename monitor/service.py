"""The monitor the API runs: records predictions off the request path, judges labelled windows and
drift, acts on degradation and drift, and tells live subscribers.

``Monitor`` is a facade: each concern lives in a module of its own and this class composes them,
runs their background loops and gives the API one object.

- ``recorder``: the record buffer, written to the store every ``flush_s`` (a request never waits
  for the database); ``dropped`` counts what a full buffer could not keep
- ``evaluation``: feedback (flushed first, so a prediction answered a moment ago can be labelled at
  once), windowed metrics, the degradation verdict
- ``drift_check``: drift reports (cached reference samples), the periodic check every ``check_s``
- ``jobs``: events and the actions they trigger (webhook, retraining job)
- ``ticks``: live traffic, every ``tick_s``
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelserve.monitor.drift_check import DriftCheck
from modelserve.monitor.errors import StoreError
from modelserve.monitor.evaluation import Evaluation, Resolver
from modelserve.monitor.jobs import Jobs
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import ModelPolicy, MonitoringPolicy
from modelserve.monitor.recorder import Recorder
from modelserve.monitor.store import Store
from modelserve.monitor.store_calls import StoreCalls
from modelserve.monitor.ticks import Ticks
from modelserve.monitor.upkeep import StoreHealth, Upkeep
from modelserve.repository import ModelRepository

__all__ = ["Monitor", "Resolver"]

logger = logging.getLogger(__name__)


class Monitor:
    def __init__(
        self,
        store: Store,
        policy: MonitoringPolicy,
        *,
        repository: ModelRepository | Path,
        triton_url: str,
        triton_protocol: str,
        served_version: Resolver,
        hub: Hub | None = None,
        flush_s: float = 0.5,
        check_s: float = 60.0,
        tick_s: float = 2.0,
        buffer_max: int = 50_000,
        retention_s: float = 30 * 86400.0,
        max_rows: int = 1_000_000,
    ) -> None:
        self.store = store
        self.policy = policy
        self.repository = ModelRepository.of(repository)
        self.triton_url = triton_url
        self.triton_protocol = triton_protocol
        self.served_version = served_version
        self.hub = hub if hub is not None else Hub()  # an empty Hub is falsy (len 0)
        self.flush_s, self.check_s, self.tick_s = flush_s, check_s, tick_s
        self.upkeep = Upkeep(store, retention_s=retention_s, max_rows=max_rows)
        self._db = StoreCalls(store, self.upkeep.health)
        self._loops: list[asyncio.Task[None]] = []
        # The parts call one another through this class's methods, as the single class did: none
        # holds another, so each stands alone (and in a test).
        self._recorder = Recorder(self._db, self.upkeep, buffer_max=buffer_max)
        self._ticks = Ticks(self.hub, tick_s=tick_s)
        self._jobs = Jobs(
            self._db,
            self.hub,
            repository=self.repository,
            triton_url=triton_url,
            triton_protocol=triton_protocol,
            on_retrained=lambda model: self._drift.forget(model),
        )
        self.holder = self._jobs.holder  # this replica, in action leases
        self._evaluation = Evaluation(
            self._db,
            policy,
            self.hub,
            served_version=served_version,
            flush=self.flush,
            trigger=self.trigger,
        )
        self._drift = DriftCheck(
            self._db,
            policy,
            self.hub,
            self.upkeep,
            repository=self.repository,
            served_version=served_version,
            flush=self.flush,
            evaluate=self.evaluate,
            trigger=self.trigger,
        )

    @property
    def store_health(self) -> StoreHealth:
        return self.upkeep.health

    @property
    def dropped(self) -> int:
        """Records a full buffer could not keep."""
        return self._recorder.dropped

    @dropped.setter
    def dropped(self, value: int) -> None:
        self._recorder.dropped = value

    @property
    def backlog(self) -> int:
        """Records waiting for the store."""
        return self._recorder.backlog

    @property
    def buffer_max(self) -> int:
        return self._recorder.buffer_max

    @buffer_max.setter
    def buffer_max(self, value: int) -> None:
        self._recorder.buffer_max = value

    async def traffic(self, model: str) -> dict[str, Any]:
        return await self._db(self.store.traffic, model)

    async def history(self, model: str, *, limit: int) -> list[dict[str, Any]]:
        return await self._db(self.store.history, model, limit=limit)

    async def events(self, model: str, *, limit: int) -> list[dict[str, Any]]:
        return await self._db(self.store.events, model, limit=limit)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self.hub.relay is not None:  # several API processes share live updates through the store
            self.hub.relay.start(asyncio.get_running_loop(), self.hub.deliver)
        self._loops = [
            asyncio.create_task(_every(self.flush_s, self.flush)),
            asyncio.create_task(_every(self.check_s, self.check_all)),
            asyncio.create_task(_every(self.tick_s, self._ticks.publish_traffic)),
        ]

    async def stop(self) -> None:
        for task in [*self._loops, *self._jobs.tasks()]:
            task.cancel()
        for task in [*self._loops, *self._jobs.tasks()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
        if self.hub.relay is not None:
            await asyncio.to_thread(self.hub.relay.stop)
        self.store.close()

    # --- the parts' work, as the API calls it ---------------------------------------------------

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
        self._ticks.note(model, latency_ms)  # live traffic counts every request, kept or dropped
        return self._recorder.record(model, version, features, predictions, confidences, latency_ms)

    async def flush(self) -> None:
        await self._recorder.flush()

    async def feedback(
        self, model: str, labels: Mapping[str, str]
    ) -> tuple[list[str], dict[str, Any] | None]:
        return await self._evaluation.feedback(model, labels)

    async def window(
        self, model: str, *, size: int, version: str | None = None, since_s: float | None = None
    ) -> dict[str, Any]:
        return await self._evaluation.window(model, size=size, version=version, since_s=since_s)

    async def evaluate(self, model: str) -> dict[str, Any]:
        return await self._evaluation.evaluate(model)

    async def drift(
        self, model: str, *, version: str | None = None, window: int | None = None
    ) -> dict[str, Any]:
        return await self._drift.drift(model, version=version, window=window)

    async def check(self, model: str) -> dict[str, Any]:
        return await self._drift.check(model)

    async def check_all(self) -> None:
        await self._drift.check_all()

    async def trigger(
        self, model: str, kind: str, policy: ModelPolicy, detail: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._jobs.trigger(model, kind, policy, detail)

    def jobs_running(self) -> list[str]:
        return self._jobs.running()


async def _every(seconds: float, work: Callable[[], Awaitable[Any]]) -> None:
    logged = -math.inf
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception as exc:
            # A store outage must not end the loop: the next round tries again. Logged once a
            # minute, not every half second; a store error is its message (StoreCalls logged the
            # cause), not a traceback that would carry the SQL and its values.
            if time.monotonic() - logged > 60:
                logged = time.monotonic()
                name = getattr(work, "__name__", work)
                if isinstance(exc, StoreError):
                    logger.warning("monitoring task %s failed: %s", name, exc)
                else:
                    logger.exception("monitoring task %s failed", name)
