"""Store calls from the event loop: each one runs in a worker thread (a request never waits on the
database), and a database failure becomes our ``StoreError``. Every part of the monitor reaches the
store through this one gate, so every outage reads the same to the API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from modelserve.monitor.errors import StoreError
from modelserve.monitor.store import Store
from modelserve.monitor.upkeep import StoreHealth

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreCalls:
    def __init__(self, store: Store, health: StoreHealth | None = None) -> None:
        self.store = store
        self.health = health if health is not None else StoreHealth()

    async def __call__(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` off the event loop; its message names the store and the
        failure's type, never the SQL."""
        try:
            answer = await asyncio.to_thread(call, *args, **kwargs)
        except SQLAlchemyError as exc:
            name, why = _name(call), _first_line(exc)
            if name not in self.health.failing:  # once per outage, not every half second
                logger.warning("monitoring store %s: %s failed: %s", self.store.url, name, why)
            self.health.failed(name, why)
            raise StoreError(f"monitoring store {self.store.url} unavailable ({why})") from exc
        if _name(call) in self.health.failing:
            logger.warning("monitoring store %s: %s works again", self.store.url, _name(call))
            self.health.succeeded(_name(call))
        return answer


def _name(call: Callable[..., Any]) -> str:
    return getattr(call, "__name__", type(call).__name__)


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's own words ("database or disk is full"), without the SQL statement."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
