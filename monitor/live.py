"""Live updates for WebSocket subscribers, without a WebSocket in
sight: each subscriber is a bounded queue. A subscriber that falls ``queue_size`` messages behind
is dropped (its queue gets the ``None`` sentinel), so one slow client never holds the others or
grows memory.

Messages that only say "the latest value is now X" (a model's metrics after each label) go
through ``publish_latest``: kept per key and sent at the next tick, the newest only. Sent one per
label, 300 subscribers cost 300 WebSocket sends per feedback post, and feedback fell from 440/s
to 98/s (this box, concurrency 8)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(eq=False)
class Subscription:
    model: str | None  # None: every model
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(256))

    async def next(self) -> dict[str, Any] | None:
        """The next message, or None once the hub dropped this subscriber."""
        return await self.queue.get()


class Relay(Protocol):
    """Carries messages to the hubs of other processes (``monitor.relay``)."""

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[dict[str, Any]], None]) -> None: ...
    def stop(self) -> None: ...
    def send(self, message: dict[str, Any]) -> None: ...


class Hub:
    def __init__(self, queue_size: int = 256, relay: Relay | None = None) -> None:
        self.queue_size = queue_size
        self.relay = relay
        self._subscribers: set[Subscription] = set()
        self._latest: dict[tuple[str, str], dict[str, Any]] = {}
        self.dropped = 0

    def subscribe(self, model: str | None = None) -> Subscription:
        sub = Subscription(model=model, queue=asyncio.Queue(self.queue_size + 1))  # +1: the sentinel
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def __len__(self) -> int:
        return len(self._subscribers)

    def publish(self, message: dict[str, Any]) -> None:
        """To this process's subscribers now, and through the relay to every other process's."""
        self.deliver(message)
        if self.relay is not None:
            self.relay.send(message)

    def publish_latest(self, message: dict[str, Any]) -> None:
        """Keep ``message`` until the next ``flush_latest``; a newer one of the same type and
        model replaces it."""
        self._latest[(str(message.get("type")), str(message.get("model")))] = message

    def flush_latest(self) -> None:
        latest, self._latest = self._latest, {}
        for message in latest.values():
            self.publish(message)

    def deliver(self, message: dict[str, Any]) -> None:
        """To this process's subscribers only."""
        model = message.get("model")
        for sub in list(self._subscribers):
            if sub.model is not None and model is not None and model != sub.model:
                continue
            if sub.queue.qsize() >= self.queue_size:
                self._subscribers.discard(sub)
                self.dropped += 1
                sub.queue.put_nowait(None)
                continue
            sub.queue.put_nowait(message)
