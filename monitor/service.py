"""The monitor the API runs: records predictions off the request path, judges labelled windows and
drift, acts on degradation and drift, and tells live subscribers.

Recording is a list append: a background task writes the buffer to the store every ``flush_s``
(a request never waits for the database). Feedback flushes first, so a prediction answered a
moment ago can be labelled at once. When the buffer is full (the store is down or too slow),
new records are counted in ``dropped`` and not kept: serving goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from modelserve.contracts.reference import Reference
from modelserve.monitor.actions import post_webhook, retrain_argv, run_job
from modelserve.monitor.drift import DriftReport, detect
from modelserve.monitor.errors import StoreError
from modelserve.monitor.feedback import FeedbackBatcher
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import ModelPolicy, MonitoringPolicy
from modelserve.monitor.quality import window_metrics
from modelserve.monitor.store import PredictionRecord, Store
from modelserve.monitor.upkeep import StoreHealth, Upkeep
from modelserve.repository import ModelRepository

logger = logging.getLogger(__name__)

Resolver = Callable[[str], Awaitable[str | None]]  # model -> the version being served (None: unknown)
T = TypeVar("T")


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
        self.buffer_max = buffer_max
        self.holder = uuid.uuid4().hex[:12]  # this replica, in action leases
        self.dropped = 0
        self._buffer: list[PredictionRecord] = []
        self._flush_lock = asyncio.Lock()
        self._tick: dict[str, list[float]] = defaultdict(list)  # model -> latencies since last tick
        self._references: dict[tuple[str, str], Reference | None] = {}
        self._checked: dict[str, int] = {}  # model -> prediction count at its last drift check
        self._jobs: dict[str, asyncio.Task[None]] = {}  # model -> running retraining job
        self._loops: list[asyncio.Task[None]] = []
        self.upkeep = Upkeep(store, retention_s=retention_s, max_rows=max_rows)
        self._feedback = FeedbackBatcher(self._label_many, self.evaluate)

    async def _label_many(self, model: str, requests: Sequence[Mapping[str, str]]) -> list[list[str]]:
        return await self._db(self.store.label_many, model, requests)

    @property
    def store_health(self) -> StoreHealth:
        return self.upkeep.health

    async def _db(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call off the event loop; a database failure becomes our StoreError, whose
        message names the store and the failure's type, never the SQL."""
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except SQLAlchemyError as exc:
            logger.warning("monitoring store %s: %s", self.store.url, exc)
            raise StoreError(f"monitoring store {self.store.url} unavailable ({type(exc).__name__})") from exc

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
            asyncio.create_task(self._every(self.flush_s, self.flush)),
            asyncio.create_task(self._every(self.check_s, self.check_all)),
            asyncio.create_task(self._every(self.tick_s, self._publish_traffic)),
        ]

    async def stop(self) -> None:
        for task in [*self._loops, *self._jobs.values()]:
            task.cancel()
        for task in [*self._loops, *self._jobs.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
        if self.hub.relay is not None:
            await asyncio.to_thread(self.hub.relay.stop)
        self.store.close()

    async def _every(self, seconds: float, work: Callable[[], Awaitable[Any]]) -> None:
        logged = -math.inf
        while True:
            await asyncio.sleep(seconds)
            try:
                await work()
            except Exception:
                # A store outage must not end the loop: the next round tries again. Logged once a
                # minute, not every half second.
                if time.monotonic() - logged > 60:
                    logged = time.monotonic()
                    logger.exception("monitoring task %s failed", getattr(work, "__name__", work))

    # --- recording ----------------------------------------------------------------------------

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
        self._tick[model].append(latency_ms)
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

    # --- feedback and metrics -----------------------------------------------------------------

    async def feedback(
        self, model: str, labels: Mapping[str, str]
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Label predictions, all or none: the unknown ids (nothing labelled then), else the served
        version's window judged after the labels (``evaluate``). Concurrent calls share a batch."""
        await self.flush()
        return await self._feedback.submit(model, labels)

    async def window(
        self, model: str, *, size: int, version: str | None = None, since_s: float | None = None
    ) -> dict[str, Any]:
        """Metrics over the ``size`` latest labelled predictions (labelled in the last ``since_s``)."""
        since = time.time() - since_s if since_s is not None else None
        rows = await self._db(self.store.labelled, model, limit=size, since=since, version=version)
        overall = window_metrics([r.label for r in rows], [r.prediction for r in rows])
        by_version = {}
        for v in sorted({r.version for r in rows}, key=lambda s: int(s) if s.isdigit() else 0):
            part = [r for r in rows if r.version == v]
            m = window_metrics([r.label for r in part], [r.prediction for r in part])
            by_version[v] = m.as_dict() if m else None
        return {
            "size": size,
            "since_s": since_s,
            "metrics": overall.as_dict() if overall else None,
            "by_version": by_version,
        }

    async def evaluate(self, model: str) -> dict[str, Any]:
        """Weighted metrics over the served version's latest labelled predictions; a snapshot in
        the history; degradation below the threshold triggers the policy's action."""
        policy = self.policy.for_model(model)
        version = await self.served_version(model)
        window = await self.window(model, size=policy.window, version=version)
        metrics = window["metrics"]
        verdict: dict[str, Any] = {"version": version, "metrics": metrics, "degraded": False, "action": None}
        if metrics is None or metrics["n"] < policy.min_labelled:
            verdict["reason"] = (
                f"{metrics['n'] if metrics else 0} labelled; judged from {policy.min_labelled}"
            )
            return verdict
        await self._db(self.store.add_snapshot, model, policy.window, metrics, [version or "?"])
        self.hub.publish(
            {"type": "metrics", "model": model, "version": version, **metrics, "at": time.time()}
        )
        if metrics["f1"] < policy.f1_threshold:
            verdict["degraded"] = True
            verdict["action"] = await self.trigger(
                model,
                "degradation",
                policy,
                {"version": version, "metrics": metrics, "f1_threshold": policy.f1_threshold},
            )
        return verdict

    # --- drift --------------------------------------------------------------------------------

    def _reference(self, model: str, version: str) -> Reference | None:
        key = (model, version)
        if key not in self._references:
            self._references[key] = self.repository.reference(model, version)
        return self._references[key]

    async def drift(
        self, model: str, *, version: str | None = None, window: int | None = None
    ) -> dict[str, Any]:
        """The drift report for ``version`` (default: served) on its latest predictions; no action."""
        policy = self.policy.for_model(model)
        await self.flush()
        version = version or await self.served_version(model)
        if version is None:
            return {"status": "unknown", "reason": f"no served version of '{model}' known"}
        reference = await asyncio.to_thread(self._reference, model, version)
        if reference is None:
            return {
                "status": "unavailable",
                "version": version,
                "reason": "this version has no reference sample (export it with modelserve >= this release)",
            }
        size = window or policy.drift_window
        live = await self._db(self.store.live_features, model, version, limit=size)
        if len(live) < policy.drift_min_samples:
            return {
                "status": "insufficient",
                "version": version,
                "live_n": len(live),
                "reason": f"{len(live)} predictions of v{version}; tested from {policy.drift_min_samples}",
            }
        report: DriftReport = detect(
            reference.features,
            live,
            reference.spec,
            alpha=policy.drift_alpha,
            correction=policy.drift_correction,
        )
        return {"status": "drifted" if report.drifted else "ok", "version": version, **report.as_dict()}

    async def check(self, model: str) -> dict[str, Any]:
        """Judge metrics and drift now, acting as the policy says (the periodic loop's work)."""
        policy = self.policy.for_model(model)
        quality = await self.evaluate(model)
        drift = await self.drift(model)
        if drift["status"] in ("ok", "drifted"):
            summary = {k: drift[k] for k in ("status", "version", "drifted_columns", "live_n")}
            self.hub.publish({"type": "drift", "model": model, **summary, "at": time.time()})
        if drift["status"] == "drifted":
            worst = sorted((c for c in drift["columns"] if c["drifted"]), key=lambda c: c["p_value"])
            detail = {
                "version": drift["version"],
                "columns": {c["column"]: {"test": c["test"], "p_value": c["p_value"]} for c in worst},
                "column_level": drift["column_level"],
            }
            drift["action"] = await self.trigger(model, "drift", policy, detail)
        return {"model": model, "quality": quality, "drift": drift}

    async def check_all(self) -> None:
        await self.flush()
        models = await self._db(self.store.models)
        await self._db(self.upkeep.prune, models)
        for model in models:
            count = await self._db(self.store.count, model)
            if count != self._checked.get(model):  # new predictions since the last check
                self._checked[model] = count
                await self.check(model)

    # --- actions ------------------------------------------------------------------------------

    async def _event(self, model: str, kind: str, detail: Mapping[str, Any]) -> dict[str, Any]:
        row = await self._db(self.store.add_event, model, kind, detail)
        self.hub.publish(
            {"type": "event", "model": model, "kind": kind, "detail": row["detail"], "at": row["created_at"]}
        )
        logger.warning("monitoring %s: %s %s", model, kind, detail)
        return row

    async def trigger(
        self, model: str, kind: str, policy: ModelPolicy, detail: dict[str, Any]
    ) -> dict[str, Any]:
        """Record the event and start the configured action, at most once per cool-down per model and
        kind across every replica sharing the store (the lease)."""
        action = policy.on_degradation if kind == "degradation" else policy.on_drift
        taken = await self._db(self.store.try_lease, f"{model}:{kind}", self.holder, policy.cooldown_s)
        if not taken:
            return {"action": action, "status": "cooling down (recorded earlier, or by another replica)"}
        await self._event(model, kind, {**detail, "action": action})
        if action == "webhook":
            assert policy.webhook_url is not None  # the policy's validator guarantees it
            payload = {"model": model, "kind": kind, "detail": detail, "at": time.time()}
            outcome = await post_webhook(policy.webhook_url, payload, timeout_s=policy.webhook_timeout_s)
            await self._event(model, "webhook_sent" if outcome["ok"] else "webhook_failed", outcome)
            return {"action": action, "status": "sent" if outcome["ok"] else "failed", **outcome}
        if action == "retrain":
            running = self._jobs.get(model)
            if running is not None and not running.done():
                return {"action": action, "status": "a retraining job for this model is already running"}
            argv = retrain_argv(
                policy.retrain,
                model=model,
                repository=self.repository.root,
                triton_url=self.triton_url,
                protocol=self.triton_protocol,
                reason=kind,
            )
            await self._event(model, "retrain_started", {"reason": kind, "argv": argv})
            self._jobs[model] = asyncio.create_task(self._retrain(model, argv, policy.retrain.timeout_s))
            return {"action": action, "status": "started"}
        return {"action": action, "status": "recorded"}

    async def _retrain(self, model: str, argv: list[str], timeout_s: float) -> None:
        result = await run_job(argv, timeout_s=timeout_s)
        await self._event(model, "retrain_succeeded" if result.ok else "retrain_failed", result.as_dict())
        self._references = {k: v for k, v in self._references.items() if k[0] != model}

    def jobs_running(self) -> list[str]:
        return [m for m, t in self._jobs.items() if not t.done()]

    # --- live traffic -------------------------------------------------------------------------

    async def _publish_traffic(self) -> None:
        ticks, self._tick = self._tick, defaultdict(list)
        if not len(self.hub) and self.hub.relay is None:  # nobody here or elsewhere to tell
            return
        for model, latencies in ticks.items():
            p50, p95 = np.percentile(latencies, [50, 95]).tolist()
            self.hub.publish(
                {
                    "type": "traffic",
                    "model": model,
                    "requests": len(latencies),
                    "per_s": len(latencies) / self.tick_s,
                    "latency_ms": {"p50": p50, "p95": p95},
                    "at": time.time(),
                }
            )
