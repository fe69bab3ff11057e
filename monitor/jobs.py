"""What degradation and drift set off: the event in the store (and to live subscribers), then the
policy's action — a webhook, or a retraining job tracked here so one model never runs two at
once. A lease in the store lets one replica of those sharing it act per cool-down."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from modelserve.monitor.actions import post_webhook, retrain_argv, run_job
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import ModelPolicy
from modelserve.monitor.store_calls import StoreCalls
from modelserve.repository import ModelRepository

logger = logging.getLogger(__name__)


class Jobs:
    def __init__(
        self,
        db: StoreCalls,
        hub: Hub,
        *,
        repository: ModelRepository,
        triton_url: str,
        triton_protocol: str,
        on_retrained: Callable[[str], None],
    ) -> None:
        self._db, self.store = db, db.store
        self.hub = hub
        self.repository = repository
        self.triton_url = triton_url
        self.triton_protocol = triton_protocol
        self._on_retrained = on_retrained  # the model's new version makes cached samples stale
        self.holder = uuid.uuid4().hex[:12]  # this replica, in action leases
        self._jobs: dict[str, asyncio.Task[None]] = {}  # model -> running retraining job

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
        self._on_retrained(model)

    def running(self) -> list[str]:
        """The models whose retraining job is still running."""
        return [m for m, t in self._jobs.items() if not t.done()]

    def tasks(self) -> list[asyncio.Task[None]]:
        """Every job task started, finished ones included (``stop`` cancels and awaits them)."""
        return list(self._jobs.values())
