"""NVIDIA's perf_analyzer, when this machine has it: driven over the same models, its CSV folded into
the run's report. Its pip wheel (``perf-analyzer``) needs glibc >= 2.38, so it installs on the GPU
machines (Ubuntu 24.04 userland) but not on Debian 12 (glibc 2.36); there the suite says so and its
own load generator stands alone.
"""

from __future__ import annotations

import csv
import io
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from modelserve.benchmarks.errors import BaselineError


def find() -> str | None:
    return shutil.which("perf_analyzer")


def unavailable_reason() -> str:
    libc, version = platform.libc_ver()
    return (
        f"perf_analyzer is not on PATH (the perf-analyzer wheel needs glibc >= 2.38; "
        f"this machine has {libc or 'an unknown libc'} {version or '?'})"
    )


def parse_csv(text: str) -> list[dict[str, Any]]:
    """perf_analyzer's ``-f`` file: numbers as numbers (latencies stay in microseconds)."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            try:
                row[key] = float(value) if "." in value else int(value)
            except (TypeError, ValueError):
                row[key] = value
        rows.append(row)
    return rows


def run(
    model: str,
    grpc_url: str,
    *,
    concurrency: tuple[int, ...],
    batch: int = 1,
    measurement_ms: int = 2000,
    timeout_s: float = 600,
) -> list[dict[str, Any]]:
    """perf_analyzer against Triton's gRPC endpoint, once per concurrency (its ranges step linearly;
    sweeps here are geometric)."""
    binary = find()
    if binary is None:
        raise BaselineError(unavailable_reason())
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in concurrency:
            out = Path(tmp) / f"pa-{c}.csv"
            cmd = [binary, "-m", model, "-u", grpc_url, "-i", "grpc", "-b", str(batch)]
            cmd += ["--concurrency-range", f"{c}:{c}", "--measurement-interval", str(measurement_ms)]
            cmd += ["-f", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            if proc.returncode != 0:
                raise BaselineError(f"perf_analyzer failed ({proc.returncode}): {proc.stderr[-1000:]}")
            rows += parse_csv(out.read_text())
    return rows
