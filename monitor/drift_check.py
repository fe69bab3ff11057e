"""Drift and the periodic check. ``drift`` compares a version's latest predictions with its
reference sample (``drift.detect`` does the statistics); the samples are cached per model and
version, since reading one from the repository costs a file load per check. ``check`` judges
metrics and drift and acts on them; ``check_all`` is the background loop's round over every model
with new predictions, retention included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from modelserve.contracts.reference import Reference
from modelserve.monitor.drift import DriftReport, detect
from modelserve.monitor.evaluation import Resolver, Trigger
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import MonitoringPolicy
from modelserve.monitor.store_calls import StoreCalls
from modelserve.monitor.upkeep import Upkeep
from modelserve.repository import ModelRepository


class DriftCheck:
    def __init__(
        self,
        db: StoreCalls,
        policy: MonitoringPolicy,
        hub: Hub,
        upkeep: Upkeep,
        *,
        repository: ModelRepository,
        served_version: Resolver,
        flush: Callable[[], Awaitable[None]],
        evaluate: Callable[[str], Awaitable[dict[str, Any]]],
        trigger: Trigger,
    ) -> None:
        self._db, self.store = db, db.store
        self.policy = policy
        self.hub = hub
        self.upkeep = upkeep
        self.repository = repository
        self.served_version = served_version
        self._flush, self._evaluate, self._trigger = flush, evaluate, trigger
        self._references: dict[tuple[str, str], Reference | None] = {}
        self._checked: dict[str, int] = {}  # model -> prediction count at its last drift check

    def _reference(self, model: str, version: str) -> Reference | None:
        key = (model, version)
        if key not in self._references:
            self._references[key] = self.repository.reference(model, version)
        return self._references[key]

    def forget(self, model: str) -> None:
        """Drop the model's cached samples (a retraining job may have replaced a version)."""
        self._references = {k: v for k, v in self._references.items() if k[0] != model}

    async def drift(
        self, model: str, *, version: str | None = None, window: int | None = None
    ) -> dict[str, Any]:
        """The drift report for ``version`` (default: served) on its latest predictions; no action."""
        policy = self.policy.for_model(model)
        await self._flush()
        version = version or await self.served_version(model)
        if version is None:
            return {"status": "unknown", "reason": f"no served version of '{model}' known"}
        reference = await asyncio.to_thread(self._reference, model, version)
        if reference is None:
            return {
                "status": "unavailable",
                "version": version,
                # Tabular exports write one; other kinds have no fixed feature vector to compare.
                "reason": "this version has no reference sample (drift is measured for tabular models)",
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
        quality = await self._evaluate(model)
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
            drift["action"] = await self._trigger(model, "drift", policy, detail)
        return {"model": model, "quality": quality, "drift": drift}

    async def check_all(self) -> None:
        await self._flush()
        models = await self._db(self.store.models)
        await self._db(self.upkeep.prune, models)
        for model in models:
            count = await self._db(self.store.count, model)
            if count != self._checked.get(model):  # new predictions since the last check
                self._checked[model] = count
                await self.check(model)
