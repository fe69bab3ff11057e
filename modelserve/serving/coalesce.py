"""Concurrent inference calls for the same model merged into one Triton request.

Why: for a small model the API's own cost per Triton call (a gRPC round trip through grpc.aio,
~0.3-0.5 ms of Python here) exceeds the model's compute, so at concurrency the API, not Triton,
is the limit. Triton's dynamic batcher merges requests *inside* the server; this merges them
before the wire, so the API makes one call for many.

How: "batch while busy", never wait. A call goes out at once while fewer than ``max_inflight``
calls for its lane are outstanding; otherwise it waits for one to finish and then leaves together
with everything queued meanwhile (up to ``max_rows`` rows). At low load nothing is delayed.

A merged call that Triton refuses for its inputs is retried request by request, so one bad
request never fails the others that shared its call. Any other failure (Triton down, a timeout)
fails them all at once: retrying each would only multiply the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from modelserve.client import InvalidInputError

InferFn = Callable[..., Awaitable[dict[str, np.ndarray]]]
Inputs = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class _Key:
    """Only calls that can be stacked share a lane: same model, version, outputs, and tensors equal
    in name, dtype and per-row shape."""

    model: str
    version: str
    outputs: tuple[str, ...]
    tensors: tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass
class _Lane:
    pending: list[tuple[Inputs, asyncio.Future[dict[str, np.ndarray]]]] = field(default_factory=list)
    inflight: int = 0


def _rows(inputs: Inputs) -> int:
    return int(next(iter(inputs.values())).shape[0])


class Coalescer:
    def __init__(self, infer: InferFn, *, max_rows: int = 64, max_inflight: int = 2) -> None:
        if max_rows < 1 or max_inflight < 1:
            raise ValueError("max_rows and max_inflight must be at least 1")
        self._infer = infer
        self.max_rows = max_rows
        self.max_inflight = max_inflight
        self._lanes: dict[_Key, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def infer(
        self, model: str, inputs: Inputs, *, version: str = "", outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        if _rows(inputs) >= self.max_rows:
            return await self._infer(model, inputs, version=version, outputs=outputs)
        key = _Key(
            model,
            version,
            tuple(outputs or ()),
            tuple((n, a.dtype.str, tuple(a.shape[1:])) for n, a in sorted(inputs.items())),
        )
        lane = self._lanes.setdefault(key, _Lane())
        future: asyncio.Future[dict[str, np.ndarray]] = asyncio.get_running_loop().create_future()
        lane.pending.append((inputs, future))
        if lane.inflight < self.max_inflight:
            self._launch(key, lane)
        return await future

    def _launch(self, key: _Key, lane: _Lane) -> None:
        batch: list[tuple[Inputs, asyncio.Future[dict[str, np.ndarray]]]] = []
        rows = 0
        while lane.pending and (not batch or rows + _rows(lane.pending[0][0]) <= self.max_rows):
            item = lane.pending.pop(0)
            if item[1].done():  # its request went away (client disconnected): nothing to send
                continue
            batch.append(item)
            rows += _rows(item[0])
        if not batch:
            return
        lane.inflight += 1
        task = asyncio.create_task(self._send(key, lane, batch))
        self._tasks.add(task)  # a reference, or the loop may collect the task mid-flight
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self,
        key: _Key,
        lane: _Lane,
        batch: list[tuple[Inputs, asyncio.Future[dict[str, np.ndarray]]]],
    ) -> None:
        model, version, outputs = key.model, key.version, list(key.outputs) or None
        try:
            if len(batch) == 1:
                await self._one(model, version, outputs, *batch[0])
                return
            merged = {name: np.concatenate([b[0][name] for b in batch]) for name in batch[0][0]}
            try:
                result = await self._infer(model, merged, version=version, outputs=outputs)
            except InvalidInputError:
                await asyncio.gather(*(self._one(model, version, outputs, i, f) for i, f in batch))
                return
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            start = 0
            for inputs, future in batch:
                n = _rows(inputs)
                if not future.done():
                    future.set_result({k: v[start : start + n] for k, v in result.items()})
                start += n
        finally:
            lane.inflight -= 1
            if lane.pending:
                self._launch(key, lane)
            elif lane.inflight == 0:
                self._lanes.pop(key, None)

    async def _one(
        self,
        model: str,
        version: str,
        outputs: list[str] | None,
        inputs: Inputs,
        future: asyncio.Future[dict[str, np.ndarray]],
    ) -> None:
        try:
            result = await self._infer(model, inputs, version=version, outputs=outputs)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
