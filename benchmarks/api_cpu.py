"""The API's CPU per request under the tabular scenario's load, read from /proc (no profiler
attached, so nothing is slowed down): ``python -m modelserve.benchmarks.api_cpu [--seconds 10]
[--concurrency 16] [--model rf]``. For A/B work on the API's hot path: run it from two checkouts,
interleaved, and compare ms/request. Optionally ``--profile out.txt`` records py-spy's collapsed
stacks (GIL samples) of the API meanwhile (py-spy on PATH)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from modelserve.benchmarks.loadgen import LoadSpec, run_load
from modelserve.benchmarks.tabular_scenario import _body, build_models
from modelserve.benchmarks.targets import HttpTarget
from modelserve.ops.stack import api_process, local_triton


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def process_group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--model", choices=("rf", "lr"), default="rf")
    parser.add_argument("--profile", type=Path, help="also record py-spy stacks of the API here")
    args = parser.parse_args()
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy on PATH (pip install py-spy)")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        model = build_models(tmp / "repo", tmp, (args.model,), 1)[0]
        with (
            local_triton(tmp / "repo", tmp / "triton", lock_control_plane=False) as triton,
            api_process(triton.endpoints.grpc_url, tmp / "repo", tmp / "api.log") as api,
        ):
            url = f"{api.base_url}/v1/models/{model.name}/predict"
            target = HttpTarget("api", url, _body(model.records), items_per_request=1)
            asyncio.run(run_load(target, LoadSpec(concurrency=args.concurrency, duration_s=3, warmup_s=1)))
            pids = process_group(api.pid)
            spy = None
            if args.profile:
                argv = ["py-spy", "record", "-p", str(api.pid), "-d", str(int(args.seconds)), "-r", "50"]
                argv += ["--gil", "-f", "raw", "-o", str(args.profile), "--nonblocking"]
                spy = subprocess.Popen(argv)
            before = cpu_seconds(pids)
            spec = LoadSpec(concurrency=args.concurrency, duration_s=args.seconds, warmup_s=0)
            result = asyncio.run(run_load(target, spec))
            used = cpu_seconds(pids) - before
            if spy is not None:
                spy.wait()
    s = result.summary
    print(
        f"{args.model} c{args.concurrency}: {s.count / s.seconds:,.0f} req/s, API CPU "
        f"{1e3 * used / s.count:.3f} ms/request, p50 {s.p50_ms:.2f} ms, p99 {s.p99_ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
