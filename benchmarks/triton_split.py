"""Triton's server-side split of one measurement: the statistics extension's cumulative counters
read before and after, differenced (perf_analyzer's "Server Queue / Compute Input / Infer / Output").

Every per-request figure is a mean in microseconds over the requests of the window; Triton counts a
batched execution's compute time once per request in it, so the means are what one request saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from modelserve.client import ClientError, TritonClient
from modelserve.client.types import Duration, ModelStatistics


@dataclass(frozen=True, kw_only=True)
class ServerSplit:
    requests: int
    executions: int
    failed: int
    queue_us: float
    compute_input_us: float
    compute_infer_us: float
    compute_output_us: float
    success_us: float  # Triton's whole handling of a request (queue + compute + its own overhead)

    @property
    def mean_batch(self) -> float:
        """Requests per execution: how much the dynamic batcher merged."""
        return self.requests / self.executions if self.executions else 0.0

    @property
    def compute_us(self) -> float:
        return self.compute_input_us + self.compute_infer_us + self.compute_output_us

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "mean_batch": self.mean_batch}


def _mean_us(after: Duration, before: Duration) -> float:
    count = after.count - before.count
    return (after.ns - before.ns) / count / 1e3 if count > 0 else 0.0


def difference(before: ModelStatistics, after: ModelStatistics) -> ServerSplit:
    return ServerSplit(
        requests=after.success.count - before.success.count,
        executions=after.execution_count - before.execution_count,
        failed=after.fail.count - before.fail.count,
        queue_us=_mean_us(after.queue, before.queue),
        compute_input_us=_mean_us(after.compute_input, before.compute_input),
        compute_infer_us=_mean_us(after.compute_infer, before.compute_infer),
        compute_output_us=_mean_us(after.compute_output, before.compute_output),
        success_us=_mean_us(after.success, before.success),
    )


def merge_splits(parts: Sequence[ServerSplit]) -> ServerSplit:
    """Several windows of one model -> one, means weighted by each window's requests."""
    total = sum(p.requests for p in parts)

    def mean(attr: str) -> float:
        return sum(getattr(p, attr) * p.requests for p in parts) / total if total else 0.0

    return ServerSplit(
        requests=total,
        executions=sum(p.executions for p in parts),
        failed=sum(p.failed for p in parts),
        queue_us=mean("queue_us"),
        compute_input_us=mean("compute_input_us"),
        compute_infer_us=mean("compute_infer_us"),
        compute_output_us=mean("compute_output_us"),
        success_us=mean("success_us"),
    )


class StatisticsWindow:
    """``start()`` and ``stop()`` around a measurement; then ``split`` (None if unreadable: statistics
    are a report's extra, never a reason to fail the measurement)."""

    def __init__(self, grpc_url: str, model: str) -> None:
        self.url = grpc_url
        self.model = model
        self._before: ModelStatistics | None = None
        self.split: ServerSplit | None = None

    def _read(self) -> ModelStatistics | None:
        try:
            with TritonClient(self.url, timeout_s=10) as client:
                stats = client.statistics(self.model)
        except ClientError:
            return None
        # One version is served at a time here; several would need summing.
        return stats[0] if stats else None

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> None:
        after = self._read()
        if self._before is not None and after is not None:
            self.split = difference(self._before, after)
