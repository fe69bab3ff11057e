"""A pixel budget for images being decoded at once: each request holds its image's pixel count
while it decodes and preprocesses, and waits while the budget is spent. Eight 6300x6300 PNGs of
4.9 KB each (under the per-image limit) once took the API from 1.7 to 3.2 GB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelserve.serving.errors import PayloadTooLargeError


class PixelBudget:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the pixel budget must be positive")
        self.capacity = capacity
        self.used = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        if pixels > self.capacity:
            raise PayloadTooLargeError(
                f"image of {pixels} pixels; at most {self.capacity} pixels are decoded at once"
            )
        async with self._changed:
            await self._changed.wait_for(lambda: self.used + pixels <= self.capacity)
            self.used += pixels
        try:
            yield
        finally:
            async with self._changed:
                self.used -= pixels
                self._changed.notify_all()
