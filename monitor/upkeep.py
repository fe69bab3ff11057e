"""Keeping the monitoring store healthy: retention, and noticing a lost database.

- **Retention**: predictions older than ``retention_s`` go, and beyond ``max_rows`` per model the
  oldest go (metric snapshots and events follow the age rule). At the load measured here the store
  grew ~93 MB per 10 minutes with nothing removed.
- **Loss**: a SQLite file deleted or replaced under a running API goes unnoticed by SQLite itself,
  which keeps writing to the unlinked file; everything is lost at the next restart. ``check``
  notices, reopens a fresh database at the same place, and keeps the loss for readiness, metrics
  and the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from modelserve.monitor.store import Store

logger = logging.getLogger(__name__)


@dataclass
class StoreHealth:
    losses: int = 0
    last_loss: str | None = None  # what happened and when, for readiness
    pruned: int = 0  # predictions removed by retention since start
    history: list[str] = field(default_factory=list)
    failures: int = 0  # store calls that failed since start (a full disk, a lost server)
    # Per kind of call, the failure while that call keeps failing: on a full disk reads still
    # work, so only the next successful write clears a failed write.
    failing: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failing

    @property
    def status(self) -> str:
        if self.failing:
            return "failing: " + "; ".join(f"{call}: {why}" for call, why in self.failing.items())
        return "ok" if self.last_loss is None else f"lost and recreated: {self.last_loss}"

    def failed(self, call: str, error: str) -> None:
        self.failures += 1
        if call not in self.failing:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            self.failing[call] = f"{error} (since {stamp} UTC)"

    def succeeded(self, call: str) -> None:
        self.failing.pop(call, None)


class Upkeep:
    def __init__(self, store: Store, *, retention_s: float, max_rows: int) -> None:
        self.store = store
        self.retention_s = retention_s
        self.max_rows = max_rows
        self.health = StoreHealth()

    def check(self) -> str | None:
        """Reopen a lost database; returns what was lost, or None. Cheap (one stat)."""
        reason = self.store.file_changed()
        if reason is None:
            return None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        self.health.losses += 1
        self.health.last_loss = f"{reason} (noticed {stamp} UTC); records since then were kept in a new file"
        logger.error("monitoring store lost: %s; opening a new database at %s", reason, self.store.url)
        self.store.reopen()
        return reason

    def prune(self, models: list[str]) -> int:
        before = time.time() - self.retention_s
        gone = sum(self.store.prune(model, before=before, keep=self.max_rows) for model in models)
        self.health.pruned += gone
        if gone:
            logger.info("monitoring retention removed %d predictions", gone)
        return gone
