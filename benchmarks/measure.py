"""Sweeps: one target over load points (concurrencies, request rates), each point with Triton's
server-side split read around it when the target's model is served by Triton."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from benchmarks.loadgen import LoadSpec, Target, run_load
from benchmarks.report import Row
from benchmarks.triton_split import StatisticsWindow

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Sweep:
    """The load points every target of a scenario is measured at."""

    concurrency: tuple[int, ...] = (1, 4, 16)
    rates: tuple[float, ...] = ()  # open-loop points, after the closed-loop ones
    arrival: str = "poisson"
    duration_s: float = 1.5
    requests: int | None = None
    trials: int = 3
    warmup_s: float = 0.5
    timeout_s: float = 30.0

    def specs(self) -> list[LoadSpec]:
        base = LoadSpec(
            duration_s=self.duration_s,
            requests=self.requests,
            trials=self.trials,
            warmup_s=self.warmup_s,
            timeout_s=self.timeout_s,
            arrival="poisson" if self.arrival == "poisson" else "constant",
        )
        closed = [replace(base, concurrency=c) for c in self.concurrency]
        return closed + [replace(base, rate=r) for r in self.rates]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """On uvloop where installed (uvicorn[standard] brings it): its lower per-request cost keeps the
    load generator from becoming the bottleneck it measures."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def sweep(
    make_target: Callable[[], Target],
    specs: Sequence[LoadSpec],
    *,
    group: str,
    triton_model: str | None = None,
    grpc_url: str | None = None,
    echo: Callable[[Row], None] | None = None,
) -> list[Row]:
    """A fresh target per point (connections from an earlier point never carry over)."""
    rows = []
    for spec in specs:
        target = make_target()
        if triton_model is not None and grpc_url is not None:
            window = StatisticsWindow(grpc_url, triton_model)
            result = run_async(run_load(target, spec, on_start=window.start, on_stop=window.stop))
            server = window.split
        else:
            result, server = run_async(run_load(target, spec)), None
        row = Row(result=result, server=server, group=group)
        if echo is not None:
            echo(row)
        rows.append(row)
    return rows
