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

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreCalls:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` off the event loop; its message names the store and the
        failure's type, never the SQL."""
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except SQLAlchemyError as exc:
            logger.warning("monitoring store %s: %s", self.store.url, exc)
            raise StoreError(f"monitoring store {self.store.url} unavailable ({type(exc).__name__})") from exc
