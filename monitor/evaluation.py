"""Judging predictions against their labels: feedback writes labels (in shared batches, see
``feedback``), ``window`` computes metrics over the latest labelled predictions, and ``evaluate``
gives the served version's verdict, records it and acts on degradation through ``trigger``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from modelserve.monitor.feedback import FeedbackBatcher
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import ModelPolicy, MonitoringPolicy
from modelserve.monitor.quality import window_metrics
from modelserve.monitor.store_calls import StoreCalls

Resolver = Callable[[str], Awaitable[str | None]]  # model -> the version being served (None: unknown)
Trigger = Callable[[str, str, ModelPolicy, dict[str, Any]], Awaitable[dict[str, Any]]]


class Evaluation:
    def __init__(
        self,
        db: StoreCalls,
        policy: MonitoringPolicy,
        hub: Hub,
        *,
        served_version: Resolver,
        flush: Callable[[], Awaitable[None]],
        trigger: Trigger,
    ) -> None:
        self._db, self.store = db, db.store
        self.policy = policy
        self.hub = hub
        self.served_version = served_version
        self._flush = flush
        self._trigger = trigger
        self._feedback = FeedbackBatcher(self._label_many, self.evaluate)

    async def _label_many(self, model: str, requests: Sequence[Mapping[str, str]]) -> list[list[str]]:
        return await self._db(self.store.label_many, model, requests)

    async def feedback(
        self, model: str, labels: Mapping[str, str]
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Label predictions, all or none: the unknown ids (nothing labelled then), else the served
        version's window judged after the labels (``evaluate``). Concurrent calls share a batch."""
        await self._flush()  # a prediction answered a moment ago can be labelled at once
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
        self.hub.publish_latest(
            {"type": "metrics", "model": model, "version": version, **metrics, "at": time.time()}
        )
        if metrics["f1"] < policy.f1_threshold:
            verdict["degraded"] = True
            verdict["action"] = await self._trigger(
                model,
                "degradation",
                policy,
                {"version": version, "metrics": metrics, "f1_threshold": policy.f1_threshold},
            )
        return verdict
