"""Closed-loop latency/throughput of one model over gRPC and HTTP, at several concurrencies,
against ONNX Runtime called in process (the engine's limit on this machine) in the same run.

    python -m benchmarks.latency --url-grpc 127.0.0.1:8001 --url-http 127.0.0.1:8000 --model iris_rf

The client shares the machine with the server; say so when quoting numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.stats import Summary, machine_info, summarise
from client import AsyncTritonClient, ClientError

logger = logging.getLogger(__name__)


async def closed_loop(
    url: str, protocol: str, model: str, inputs: dict[str, np.ndarray], concurrency: int, seconds: float
) -> Summary:
    latencies: list[float] = []
    errors = 0
    async with AsyncTritonClient(url, protocol=protocol, timeout_s=30) as client:
        for _ in range(20):  # warm-up: connections, first-request costs
            await client.infer(model, inputs)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    await client.infer(model, inputs)
                    latencies.append(time.perf_counter() - start)
                except ClientError:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return summarise(latencies, errors=errors, seconds=elapsed)


def in_process(model_path: Path, inputs: dict[str, np.ndarray], seconds: float) -> Summary:
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    for _ in range(20):
        session.run(None, inputs)
    latencies = []
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        session.run(None, inputs)
        latencies.append(time.perf_counter() - start)
    return summarise(latencies, errors=0, seconds=time.perf_counter() - began)


def run(args: argparse.Namespace) -> dict[str, Any]:
    features = np.asarray(json.loads(args.row), dtype=np.float32).reshape(1, -1)
    inputs = {"features": features}
    rows: list[dict[str, Any]] = []
    base = in_process(args.model_path, inputs, args.seconds)
    rows.append(
        {"path": "onnxruntime in-process", "concurrency": 1, **asdict(base), "throughput": base.throughput}
    )
    for protocol, url in (("grpc", args.url_grpc), ("http", args.url_http)):
        for concurrency in args.concurrency:
            s = asyncio.run(closed_loop(url, protocol, args.model, inputs, concurrency, args.seconds))
            rows.append(
                {
                    "path": f"triton {protocol}",
                    "concurrency": concurrency,
                    **asdict(s),
                    "throughput": s.throughput,
                }
            )
    return {
        "machine": machine_info(),
        "model": args.model,
        "batch": 1,
        "seconds_per_point": args.seconds,
        "rows": rows,
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"{'path':<24} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in result["rows"]:
        print(
            f"{r['path']:<24} {r['concurrency']:>4} {r['throughput']:>9.0f} {r['p50_ms']:>8.2f} "
            f"{r['p90_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url-grpc", default="127.0.0.1:8001")
    parser.add_argument("--url-http", default="127.0.0.1:8000")
    parser.add_argument("--model", default="iris_rf")
    parser.add_argument("--model-path", type=Path, default=Path("model_repository/iris_rf/1/model.onnx"))
    parser.add_argument("--row", default="[5.1, 3.5, 1.4, 0.2]", help="one input row as JSON")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args()
    result = run(args)
    print_table(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
