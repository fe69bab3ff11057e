"""The asyncio load generator: closed loop at a fixed concurrency, or open loop at a request rate.

Closed loop: ``concurrency`` workers each send, wait for the answer, send again (perf_analyzer's
concurrency mode). Open loop: requests start on a schedule (constant spacing or Poisson arrivals)
whether or not earlier ones finished, and latency counts from the *scheduled* start, so a server
that falls behind shows it in the percentiles instead of hiding it by slowing the client down
(coordinated omission).

Every request ends as a success (latency recorded) or an error of a named kind; requests the open
loop could not even start because ``max_inflight`` were outstanding count as ``backlog`` errors.
Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from modelserve.benchmarks.stats import Summary, spread, summarise


@dataclass(frozen=True)
class Outcome:
    """What a target says about one request: an error kind, or the server's own timing split."""

    error: str | None = None
    split_ms: Mapping[str, float] | None = None


OK = Outcome()


class Target(Protocol):
    """Something to send requests to. ``slot`` names the caller (worker or in-flight slot) so a
    target can keep one connection per slot."""

    name: str
    items_per_request: int

    async def open(self) -> None: ...

    async def send(self, slot: int) -> Outcome: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class LoadSpec:
    concurrency: int = 1  # closed loop: workers
    rate: float | None = None  # open loop when set: requests per second
    arrival: Literal["constant", "poisson"] = "constant"
    duration_s: float | None = 5.0  # per trial; or
    requests: int | None = None  # per trial (whichever is set; requests wins)
    warmup_s: float = 1.0
    trials: int = 1  # repeated windows: their spread is the noise band
    timeout_s: float = 30.0
    max_inflight: int = 1024  # open loop only
    seed: int = 0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s, got {self.rate}")
        if self.requests is None and (self.duration_s is None or self.duration_s <= 0):
            raise ValueError("give a positive duration_s or a request count")
        if self.requests is not None and self.requests < 1:
            raise ValueError(f"requests must be >= 1, got {self.requests}")
        if self.trials < 1:
            raise ValueError(f"trials must be >= 1, got {self.trials}")
        if self.arrival not in ("constant", "poisson"):
            raise ValueError(f"arrival must be constant or poisson, got {self.arrival!r}")

    @property
    def mode(self) -> str:
        return "open" if self.rate is not None else "closed"

    @property
    def point(self) -> float:
        """The x of a sweep: concurrency, or request rate."""
        return self.rate if self.rate is not None else float(self.concurrency)


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    target: str
    spec: LoadSpec
    summary: Summary  # all trials pooled
    trials: list[Summary]
    split_ms: dict[str, float] = field(default_factory=dict)  # mean server-reported split
    latencies_s: tuple[float, ...] = ()  # every success, for pooling rounds exactly

    @property
    def throughput_spread(self) -> float:
        return spread([t.throughput for t in self.trials])

    @property
    def p50_spread(self) -> float:
        return spread([t.p50_ms for t in self.trials])

    @property
    def p99_spread(self) -> float:
        return spread([t.p99_ms for t in self.trials])


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError | OSError):
        return "connection"
    return type(exc).__name__


class _Window:
    """What one trial collects."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.splits: list[Mapping[str, float]] = []

    def record(self, latency_s: float, outcome: Outcome) -> None:
        if outcome.error is not None:
            self.errors.append(outcome.error)
            return
        self.latencies.append(latency_s)
        if outcome.split_ms:
            self.splits.append(outcome.split_ms)


async def _one(target: Target, slot: int, timeout_s: float) -> Outcome:
    try:
        return await asyncio.wait_for(target.send(slot), timeout_s)
    except Exception as exc:  # every failure is counted under its kind, none escapes the run
        return Outcome(error=error_kind(exc))


async def _closed(target: Target, spec: LoadSpec, window: _Window, seconds: float | None) -> float:
    """Until ``seconds`` pass, or (``seconds`` None) until ``spec.requests`` have been sent."""
    deadline = time.perf_counter() + seconds if seconds is not None else None
    remaining = spec.requests or 0

    async def worker(slot: int) -> None:
        nonlocal remaining
        while True:
            if deadline is not None:
                if time.perf_counter() >= deadline:
                    return
            elif remaining <= 0:
                return
            else:
                remaining -= 1
            start = time.perf_counter()
            outcome = await _one(target, slot, spec.timeout_s)
            window.record(time.perf_counter() - start, outcome)

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))
    return time.perf_counter() - began


def arrival_offsets(spec: LoadSpec, seconds: float | None, rng: np.random.Generator) -> np.ndarray:
    """Start times (seconds from the trial's start) of an open-loop trial: ``spec.requests`` of them,
    or all that fall inside ``seconds``."""
    assert spec.rate is not None
    if seconds is None:
        assert spec.requests is not None
        n = spec.requests
    else:
        # Poisson arrivals in a window number rate*seconds +- sqrt(that): 1.5x + 16 always covers it.
        n = int(np.ceil(seconds * spec.rate * 1.5)) + 16
    if spec.arrival == "poisson":
        gaps = rng.exponential(1.0 / spec.rate, n)
        offsets = np.cumsum(gaps) - gaps[0]
    else:
        offsets = np.arange(n, dtype=np.float64) / spec.rate
    return np.asarray(offsets if seconds is None else offsets[offsets < seconds], dtype=np.float64)


async def _open(
    target: Target, spec: LoadSpec, window: _Window, seconds: float | None, rng: np.random.Generator
) -> float:
    offsets = arrival_offsets(spec, seconds, rng)
    free = list(range(spec.max_inflight))
    tasks: set[asyncio.Task[None]] = set()

    async def fire(slot: int, scheduled: float) -> None:
        try:
            outcome = await _one(target, slot, spec.timeout_s)
            window.record(time.perf_counter() - scheduled, outcome)
        finally:
            free.append(slot)

    began = time.perf_counter()
    for offset in offsets:
        scheduled = began + float(offset)
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not free:
            window.errors.append("backlog")
            continue
        task = asyncio.create_task(fire(free.pop(), scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return time.perf_counter() - began


async def run_load(
    target: Target,
    spec: LoadSpec,
    *,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> LoadResult:
    """Warm up, then measure ``spec.trials`` windows; the target is opened and closed here.
    ``on_start``/``on_stop`` run just before the first and after the last measured window (server
    statistics are read there, so warm-up requests stay out of them)."""
    rng = np.random.default_rng(spec.seed)
    await target.open()
    try:
        if spec.warmup_s > 0:
            warm = _Window()
            if spec.rate is None:
                await _closed(target, spec, warm, spec.warmup_s)
            else:
                await _open(target, spec, warm, spec.warmup_s, rng)
        windows: list[tuple[_Window, float]] = []
        if on_start is not None:
            on_start()
        for _ in range(spec.trials):
            window = _Window()
            seconds = None if spec.requests is not None else spec.duration_s
            if spec.rate is None:
                elapsed = await _closed(target, spec, window, seconds)
            else:
                elapsed = await _open(target, spec, window, seconds, rng)
            windows.append((window, elapsed))
        if on_stop is not None:
            on_stop()
    finally:
        await target.close()
    n = target.items_per_request
    trials = [summarise(w.latencies, errors=w.errors, seconds=s, items_per_request=n) for w, s in windows]
    pooled = summarise(
        [x for w, _ in windows for x in w.latencies],
        errors=dict(Counter(e for w, _ in windows for e in w.errors)),
        seconds=sum(s for _, s in windows),
        items_per_request=n,
    )
    splits = [s for w, _ in windows for s in w.splits]
    keys = sorted({k for s in splits for k in s})
    split_ms = {k: float(np.mean([s.get(k, 0.0) for s in splits])) for k in keys}
    return LoadResult(
        target=target.name,
        spec=spec,
        summary=pooled,
        trials=trials,
        split_ms=split_ms,
        latencies_s=tuple(x for w, _ in windows for x in w.latencies),
    )


def merge_results(parts: Sequence[LoadResult]) -> LoadResult:
    """Rounds of one (target, load point) measured at different times -> one result whose trials
    are the rounds: their spread is then the run-to-run spread over the whole run, drift included."""
    first = parts[0]
    errors: Counter[str] = Counter()
    for p in parts:
        errors.update(p.summary.errors)
    pooled = summarise(
        [x for p in parts for x in p.latencies_s],
        errors=dict(errors),
        seconds=sum(p.summary.seconds for p in parts),
        items_per_request=first.summary.items_per_request,
    )
    weights = [p.summary.count for p in parts]
    keys = sorted({k for p in parts for k in p.split_ms})
    split_ms = {
        k: sum(p.split_ms.get(k, 0.0) * w for p, w in zip(parts, weights, strict=True)) / max(sum(weights), 1)
        for k in keys
    }
    return LoadResult(
        target=first.target,
        spec=replace(first.spec, trials=sum(len(p.trials) for p in parts)),
        summary=pooled,
        trials=[t for p in parts for t in p.trials],
        split_ms=split_ms,
        latencies_s=tuple(x for p in parts for x in p.latencies_s),
    )
