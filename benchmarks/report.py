"""One benchmark run's rows: the printed table, perf_analyzer-style CSV and the JSON document.

A row is one (target, load point): the pooled client statistics, the spread of its repeated trials,
the API's own Server-Timing split when the target is an API route, and Triton's server-side split
when the target's model is served by Triton.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelserve.benchmarks.loadgen import LoadResult
from modelserve.benchmarks.triton_split import ServerSplit

# perf_analyzer's CSV header, in its order and units (microseconds), so its tooling reads ours; the
# first column is "Concurrency" or "Request Rate" like perf_analyzer's. Our own columns follow.
PERF_ANALYZER_COLUMNS = (
    "Inferences/Second",
    "Client Send",
    "Network+Server Send/Recv",
    "Server Queue",
    "Server Compute Input",
    "Server Compute Infer",
    "Server Compute Output",
    "Client Recv",
    "p50 latency",
    "p90 latency",
    "p95 latency",
    "p99 latency",
    "Avg latency",
)
EXTRA_COLUMNS = (
    "Max latency",
    "Requests/Second",
    "Batch Size",
    "Errors",
    "Throughput Spread",
    "API Total",
    "API Triton Call",
    "API Own Work",
    "Server Mean Batch",
    "Target",
)


@dataclass(frozen=True, kw_only=True)
class Row:
    result: LoadResult
    server: ServerSplit | None = None
    group: str = ""  # scenario part, e.g. "tabular-lr"

    def as_dict(self) -> dict[str, Any]:
        spec = self.result.spec
        return {
            "group": self.group,
            "target": self.result.target,
            "mode": spec.mode,
            "concurrency": spec.concurrency if spec.rate is None else None,
            "rate": spec.rate,
            "arrival": spec.arrival if spec.rate is not None else None,
            **self.result.summary.as_dict(),
            "throughput_spread": self.result.throughput_spread,
            "p50_spread": self.result.p50_spread,
            "p99_spread": self.result.p99_spread,
            "trials": [t.as_dict() for t in self.result.trials],
            "api_split_ms": self.result.split_ms,
            "server_split": self.server.as_dict() if self.server else None,
        }


def csv_text(rows: Sequence[Row]) -> str:
    """perf_analyzer's layout: one file per sweep axis, rows sorted by increasing throughput."""
    open_loop = any(r.result.spec.rate is not None for r in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("Request Rate" if open_loop else "Concurrency", *PERF_ANALYZER_COLUMNS, *EXTRA_COLUMNS))
    for row in sorted(rows, key=lambda r: r.result.summary.items_per_s):
        s, spec, server, api = row.result.summary, row.result.spec, row.server, row.result.split_ms
        avg_us = s.avg_ms * 1e3
        if server is not None:
            server_us = server.queue_us + server.compute_us
            network_us = max(avg_us - server_us, 0.0)
            parts = (
                server.queue_us,
                server.compute_input_us,
                server.compute_infer_us,
                server.compute_output_us,
            )
        else:
            network_us, parts = avg_us, (0.0, 0.0, 0.0, 0.0)
        writer.writerow(
            (
                f"{spec.point:g}",
                f"{s.items_per_s:.1f}",
                0,  # requests are serialised before the clock starts
                round(network_us),
                *(round(p) for p in parts),
                0,  # answers are read, not decoded, by the raw HTTP client
                *(round(v * 1e3) for v in (s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.avg_ms, s.max_ms)),
                f"{s.throughput:.1f}",
                s.items_per_request,
                s.error_count,
                f"{row.result.throughput_spread:.3f}",
                round(api.get("total", 0.0) * 1e3),
                round(api.get("triton", 0.0) * 1e3),
                round(api.get("api", 0.0) * 1e3),
                f"{server.mean_batch:.2f}" if server else "",
                row.result.target,
            )
        )
    return out.getvalue()


def table(rows: Sequence[Row]) -> str:
    head = (
        f"{'target':<34} {'load':>9} {'req/s':>9} {'±%':>4} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'queue us':>8} {'infer us':>8} {'err':>5}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        s, spec = row.result.summary, row.result.spec
        load = f"c{spec.concurrency}" if spec.rate is None else f"{spec.rate:g}/s"
        if s.items_per_request > 1:
            load += f"b{s.items_per_request}"
        queue = f"{row.server.queue_us:.0f}" if row.server else "-"
        infer = f"{row.server.compute_infer_us:.0f}" if row.server else "-"
        errors = ",".join(f"{k}:{v}" for k, v in sorted(s.errors.items())) or "0"
        lines.append(
            f"{row.result.target[:34]:<34} {load:>9} {s.throughput:>9.1f} "
            f"{100 * row.result.throughput_spread / 2:>4.0f} {s.p50_ms:>8.2f} {s.p90_ms:>8.2f} "
            f"{s.p99_ms:>8.2f} {s.max_ms:>8.2f} {queue:>8} {infer:>8} {errors:>5}"
        )
    return "\n".join(lines)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "target"


def write_outputs(out_dir: Path, rows: Sequence[Row], document: dict[str, Any]) -> list[Path]:
    """``run.json`` (everything) and one perf_analyzer-style CSV per target (perf_analyzer writes one
    file per model and sweep, and tools that read it expect one series); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run_json = out_dir / "run.json"
    run_json.write_text(json.dumps(document, indent=2) + "\n")
    paths = [run_json]
    for target, batch in dict.fromkeys((r.result.target, r.result.summary.items_per_request) for r in rows):
        path = out_dir / f"{slug(target)}{f'-b{batch}' if batch > 1 else ''}.csv"
        same = [r for r in rows if (r.result.target, r.result.summary.items_per_request) == (target, batch)]
        path.write_text(csv_text(same))
        paths.append(path)
    return paths
