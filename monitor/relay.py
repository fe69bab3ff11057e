"""Live messages shared by every API process on one PostgreSQL monitoring store.

Each process's hub delivers its own messages to its own WebSocket clients at once and sends them
with ``NOTIFY``; a listener thread (``LISTEN``) delivers the other processes' messages. So a client
connected to any replica (or any worker process) sees the whole fleet's traffic, metrics, drift and
events. With SQLite (one process or one host) there is nothing to relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)
CHANNEL = "modelserve_live"
MAX_PAYLOAD = 7900  # PostgreSQL's NOTIFY payload limit is 8000 bytes


def relay_for(url: str) -> PostgresRelay | None:
    return PostgresRelay(url) if url.startswith("postgresql") else None


class PostgresRelay:
    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.channel = channel
        self.origin = uuid.uuid4().hex[:12]  # this process: its own messages come back, skip them
        self.sent = self.received = self.skipped = 0
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[dict[str, Any]], None]) -> None:
        self._threads = [
            threading.Thread(target=self._listen, args=(loop, deliver), name="live-listen", daemon=True),
            threading.Thread(target=self._send, name="live-notify", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def send(self, message: dict[str, Any]) -> None:
        """Never blocks the event loop: the message waits in a bounded queue for the sender thread."""
        try:
            self._outbox.put_nowait(message)
        except queue.Full:
            self.skipped += 1

    def _connect(self) -> Any:
        import psycopg  # the postgres extra; only needed when the store is PostgreSQL

        return psycopg.connect(self.dsn, autocommit=True)

    def _send(self) -> None:
        conn = None
        while not self._stop.is_set():
            message = self._outbox.get()
            if message is None:
                break
            payload = json.dumps({"origin": self.origin, "message": message}, default=str)
            if len(payload.encode()) > MAX_PAYLOAD:
                self.skipped += 1
                continue
            try:
                conn = conn or self._connect()
                conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                self.sent += 1
            except Exception as exc:  # the store is down: live updates pause, serving goes on
                logger.warning("live relay: NOTIFY failed (%s)", exc)
                with contextlib.suppress(Exception):
                    conn.close() if conn is not None else None
                conn = None
                self._stop.wait(1.0)
        if conn is not None:
            conn.close()

    def _listen(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[dict[str, Any]], None]) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5, stop_after=64):
                            self._forward(note.payload, loop, deliver)
            except Exception as exc:
                logger.warning("live relay: LISTEN connection lost (%s); retrying", exc)
                self._stop.wait(1.0)

    def _forward(
        self, payload: str, loop: asyncio.AbstractEventLoop, deliver: Callable[[dict[str, Any]], None]
    ) -> None:
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if data.get("origin") == self.origin or not isinstance(data.get("message"), dict):
            return
        self.received += 1
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(deliver, data["message"])
