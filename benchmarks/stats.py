"""Latency statistics and the machine description every result file carries."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Summary:
    count: int
    errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def summarise(latencies_s: Sequence[float], *, errors: int, seconds: float) -> Summary:
    if not latencies_s:
        return Summary(count=0, errors=errors, seconds=seconds, p50_ms=0, p90_ms=0, p99_ms=0, max_ms=0)
    ms = np.asarray(latencies_s) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return Summary(
        count=len(ms),
        errors=errors,
        seconds=seconds,
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        max_ms=float(ms.max()),
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for pkg in ("onnxruntime", "tritonclient", "nvidia-pytriton", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": None,
        "python": platform.python_version(),
        "versions": versions,
        "commit": _git_commit(),
    }
