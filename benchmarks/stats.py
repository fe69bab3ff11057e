"""Latency statistics and the machine description every result file carries."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True, kw_only=True)
class Summary:
    """One measurement window: completed requests, failures by kind, latency percentiles."""

    count: int  # successful requests
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count; never dropped
    seconds: float
    items_per_request: int = 1  # batch size: throughput in items is count * this / seconds
    avg_ms: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def items_per_s(self) -> float:
        return self.throughput * self.items_per_request

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "throughput": self.throughput, "items_per_s": self.items_per_s}


def summarise(
    latencies_s: Sequence[float],
    *,
    errors: Mapping[str, int] | Sequence[str] = (),
    seconds: float,
    items_per_request: int = 1,
) -> Summary:
    """Percentiles by linear interpolation (numpy's default, as perf_analyzer's nearest-rank differs
    only in the last digit for the window sizes used here)."""
    errs = dict(errors) if isinstance(errors, Mapping) else dict(Counter(errors))
    if len(latencies_s) == 0:
        return Summary(count=0, errors=errs, seconds=seconds, items_per_request=items_per_request)
    ms = np.asarray(latencies_s, dtype=np.float64) * 1e3
    p50, p90, p95, p99 = (float(v) for v in np.percentile(ms, PERCENTILES))
    return Summary(
        count=len(ms),
        errors=errs,
        seconds=seconds,
        items_per_request=items_per_request,
        avg_ms=float(ms.mean()),
        p50_ms=p50,
        p90_ms=p90,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=float(ms.max()),
    )


def spread(values: Sequence[float]) -> float:
    """Relative run-to-run spread of repeated trials: (max - min) / median; 0 for fewer than two."""
    if len(values) < 2:
        return 0.0
    arr = np.asarray(values, dtype=np.float64)
    mid = float(np.median(arr))
    return float((arr.max() - arr.min()) / mid) if mid > 0 else 0.0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _run(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _gpu_model() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    return _run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for pkg in ("onnxruntime", "onnxruntime-gpu", "tritonclient", "nvidia-pytriton", "numpy", "fastapi"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": _gpu_model(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": _commit(),
    }


def _commit() -> str:
    """HEAD, with ``-dirty`` when tracked files differ from it: two runs of one commit with
    different code in between are not an A/A pair (history's noise floor skips dirty runs)."""
    if os.environ.get("MODELSERVE_COMMIT"):  # a copied tree (the GPU machine): its .git may be stale
        return os.environ["MODELSERVE_COMMIT"]
    head = _run(["git", "rev-parse", "--short", "HEAD"])
    if not head:
        return "unknown"
    changed = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return f"{head}-dirty" if changed else head
