"""The store's health follows its calls: a failing kind of call keeps it failing until that same
kind works again (on a full disk reads still work; only a write clears a failed write)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from modelserve.monitor.errors import StoreError
from modelserve.monitor.store_calls import StoreCalls
from modelserve.monitor.upkeep import StoreHealth


class _Store:
    url = "sqlite:///x.sqlite"
    full = True

    def add_predictions(self, batch: list[int]) -> int:
        if self.full:
            raise OperationalError("INSERT INTO predictions ...", {}, Exception("database or disk is full"))
        return len(batch)

    def history(self) -> list[str]:
        return []


def test_a_failed_write_keeps_the_store_failing_until_a_write_works() -> None:
    store, health = _Store(), StoreHealth()
    calls = StoreCalls(store, health)  # type: ignore[arg-type]
    assert health.ok and health.status == "ok"
    with pytest.raises(StoreError, match="database or disk is full") as err:
        asyncio.run(calls(store.add_predictions, [1, 2]))
    assert "INSERT" not in str(err.value)  # the driver's words, never the SQL
    assert not health.ok and health.failures == 1
    assert health.status.startswith("failing: add_predictions: OperationalError: database or disk is full")
    asyncio.run(calls(store.history))  # a read works on a full disk: still failing
    assert not health.ok
    store.full = False
    assert asyncio.run(calls(store.add_predictions, [1])) == 1
    assert health.ok and health.status == "ok" and health.failures == 1
