"""The search space of ``modelserve tune``: serving-config points, each one a ModelConfig protobuf
built from the served (default) config, the diff between two configs, and the choice of the best
measured point under a p99 budget (Triton Model Analyzer's "best config under a latency budget").

Pure functions over protobuf messages and numbers: the sweep against a server is ``benchmarks.tune``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.benchmarks.errors import TuneError
from modelserve.serve.backend.modelserve_parameters import INTRA_OP_THREADS

THREADS_PARAMETER = INTRA_OP_THREADS  # our ORT backend and NGC's both read it


@dataclass(frozen=True, kw_only=True)
class TunePoint:
    """The serving knobs a tune sweeps. ``None`` for queue delay / threads: not set in the config
    (dynamic batching off / the backend's default thread count)."""

    instances: int
    max_batch: int
    preferred: tuple[int, ...] = ()
    queue_delay_us: int | None = None
    ort_threads: int | None = None

    @property
    def label(self) -> str:
        """Short and stable: the row key in the history, so tune runs compare with ``bench compare``."""
        pref = "+".join(str(p) for p in self.preferred) or "-"
        delay = "off" if self.queue_delay_us is None else str(self.queue_delay_us)
        threads = "auto" if self.ort_threads is None else str(self.ort_threads)
        return f"inst={self.instances} mb={self.max_batch} pref={pref} delay_us={delay} threads={threads}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "preferred": list(self.preferred)}

    def problem(self) -> str | None:
        """Why Triton would refuse this combination, or None."""
        if self.max_batch == 0 and (self.queue_delay_us is not None or self.preferred):
            return "dynamic batching needs max_batch_size > 0"
        too_big = [p for p in self.preferred if p > self.max_batch]
        if too_big:
            return f"preferred batch {too_big} > max_batch_size {self.max_batch}"
        if self.preferred and self.queue_delay_us is None:
            return "preferred batch sizes need dynamic batching (a queue delay)"
        return None


@dataclass(frozen=True, kw_only=True)
class Axes:
    """What to sweep; an empty axis keeps the default config's value."""

    instances: tuple[int, ...] = ()
    max_batch: tuple[int, ...] = ()
    preferred: tuple[tuple[int, ...], ...] = ()
    queue_delay_us: tuple[int, ...] = ()
    ort_threads: tuple[int, ...] = ()


def point_of(config: mc.ModelConfig) -> TunePoint:
    """The knobs as a config sets them."""
    batching = config.HasField("dynamic_batching")
    threads = (
        config.parameters[THREADS_PARAMETER].string_value if THREADS_PARAMETER in config.parameters else ""
    )
    return TunePoint(
        instances=max(sum(g.count for g in config.instance_group), 1),
        max_batch=config.max_batch_size,
        preferred=tuple(config.dynamic_batching.preferred_batch_size) if batching else (),
        queue_delay_us=int(config.dynamic_batching.max_queue_delay_microseconds) if batching else None,
        ort_threads=int(threads) if threads.isdigit() and int(threads) > 0 else None,
    )


def grid(default: TunePoint, axes: Axes) -> tuple[list[TunePoint], dict[str, str]]:
    """Default first, then every combination of the axes (the default's value where an axis is
    empty), without repeats; and the combinations left out, with why."""
    combos = itertools.product(
        axes.instances or (default.instances,),
        axes.max_batch or (default.max_batch,),
        axes.preferred or (default.preferred,),
        axes.queue_delay_us or (default.queue_delay_us,),
        axes.ort_threads or (default.ort_threads,),
    )
    points, invalid = [default], {}
    for inst, mb, pref, delay, threads in combos:
        point = TunePoint(
            instances=inst, max_batch=mb, preferred=tuple(pref), queue_delay_us=delay, ort_threads=threads
        )
        if point in points or point.label in invalid:
            continue
        why = point.problem()
        if why is not None:
            invalid[point.label] = why
        else:
            points.append(point)
    return points, invalid


def apply_point(base: mc.ModelConfig, point: TunePoint) -> mc.ModelConfig:
    """A copy of ``base`` with the point's knobs; everything else (I/O, version policy, warm-up,
    accelerators) as it was."""
    if base.max_batch_size == 0 and point.max_batch > 0:
        raise TuneError(
            f"{base.name} does not batch (max_batch_size 0): its dims include the batch, so "
            "--max-batch, --preferred-batch and --queue-delay-us do not apply"
        )
    config = mc.ModelConfig()
    config.CopyFrom(base)
    config.max_batch_size = point.max_batch
    if point.queue_delay_us is None:
        config.ClearField("dynamic_batching")
    else:
        config.dynamic_batching.max_queue_delay_microseconds = point.queue_delay_us
        del config.dynamic_batching.preferred_batch_size[:]
        config.dynamic_batching.preferred_batch_size.extend(point.preferred)
    if not config.instance_group:
        config.instance_group.add(kind=mc.ModelInstanceGroup.Kind.KIND_AUTO)
    del config.instance_group[1:]  # one group carries the count
    config.instance_group[0].count = point.instances
    if point.ort_threads is None:
        if THREADS_PARAMETER in config.parameters:
            del config.parameters[THREADS_PARAMETER]
    else:
        config.parameters[THREADS_PARAMETER].string_value = str(point.ort_threads)
    return config


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def config_diff(before: mc.ModelConfig, after: mc.ModelConfig) -> list[str]:
    """``field: old -> new`` for every field that differs (dotted paths, ``-`` for unset)."""

    def flat(config: mc.ModelConfig) -> dict[str, Any]:
        return _flat(json_format.MessageToDict(config, preserving_proto_field_name=True))

    a, b = flat(before), flat(after)
    return [
        f"{k}: {a.get(k, '-')} -> {b.get(k, '-')}"
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k)
    ]


@dataclass(frozen=True, kw_only=True)
class Measured:
    """One point at one concurrency: what the selection needs."""

    concurrency: int
    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


def within_budget(measured: Sequence[Measured], budget_p99_ms: float | None) -> bool:
    return bool(measured) and all(
        m.errors == 0 and m.throughput > 0 and (budget_p99_ms is None or m.p99_ms <= budget_p99_ms)
        for m in measured
    )


def select_best(
    results: Sequence[Sequence[Measured]], concurrency: Sequence[int], budget_p99_ms: float | None
) -> int | None:
    """The index of the best point: measured at every asked concurrency without errors, p99 within
    the budget at each, and the highest throughput at the highest concurrency (the earlier point on a
    tie, so the default wins ties). None when no point qualifies."""
    top = max(concurrency)
    best: int | None = None
    best_tput = -1.0
    for i, measured in enumerate(results):
        if {m.concurrency for m in measured} != set(concurrency) or not within_budget(
            measured, budget_p99_ms
        ):
            continue
        tput = next(m.throughput for m in measured if m.concurrency == top)
        if tput > best_tput:
            best, best_tput = i, tput
    return best
