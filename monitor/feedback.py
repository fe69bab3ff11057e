"""Feedback written in batches: concurrent feedback requests for one model share one transaction
and one judgement of the window after them (each request still all or none on its own). At
concurrency 8 each request once paid its own transaction and its own window query (~21 posts/s)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

Outcome = tuple[list[str], dict[str, Any] | None]  # unknown ids, the window's verdict after
Write = Callable[[str, Sequence[Mapping[str, str]]], Awaitable[list[list[str]]]]
Judge = Callable[[str], Awaitable[dict[str, Any]]]


class FeedbackBatcher:
    def __init__(self, write: Write, judge: Judge, *, max_batch: int = 64) -> None:
        self._write, self._judge, self.max_batch = write, judge, max_batch
        self._pending: dict[str, list[tuple[Mapping[str, str], asyncio.Future[Outcome]]]] = defaultdict(list)
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, model: str, labels: Mapping[str, str]) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[model].append((labels, future))
        if model not in self._running:
            self._running.add(model)
            task = asyncio.create_task(self._drain(model))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, model: str) -> None:
        try:
            while self._pending[model]:
                batch = self._pending[model][: self.max_batch]
                del self._pending[model][: self.max_batch]
                if not await self._settle(model, batch, last_try=len(batch) == 1):
                    # The shared transaction failed and wrote nothing: each request again on its
                    # own, so one that the store refuses does not fail the others.
                    for item in batch:
                        await self._settle(model, [item], last_try=True)
        finally:
            self._running.discard(model)
            self._pending.pop(model, None)

    async def _settle(
        self, model: str, batch: list[tuple[Mapping[str, str], asyncio.Future[Outcome]]], *, last_try: bool
    ) -> bool:
        """Write and judge one batch and answer its requests; False when the write failed and
        ``last_try`` is not set (nothing answered, nothing written)."""
        try:
            missing = await self._write(model, [labels for labels, _ in batch])
        except Exception as exc:
            if not last_try:
                return False
            return _fail(batch, exc)
        try:
            verdict = await self._judge(model) if any(not m for m in missing) else None
        except Exception as exc:
            return _fail(batch, exc)
        for (_, future), absent in zip(batch, missing, strict=True):
            if not future.done():
                future.set_result((absent, None if absent else verdict))
        return True


def _fail(batch: list[tuple[Mapping[str, str], asyncio.Future[Outcome]]], exc: Exception) -> bool:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
    return True
