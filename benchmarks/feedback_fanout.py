"""Feedback throughput while live subscribers watch: does it fall with their number?

    python -m modelserve.benchmarks.feedback_fanout [--subscribers 0 100 300] [--concurrency 8]

Starts ``modelserve up`` on the demo models (SQLite monitoring store), answers predictions to get
prediction ids, then for each subscriber count: that many ``/ws/metrics`` WebSockets reading, and
``--concurrency`` clients posting one label each per request for ``--seconds``. The 0-subscriber
row is the baseline measured in the same run. Prints a table; writes ``feedback-fanout-<date>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from modelserve.benchmarks.stats import machine_info
from modelserve.serve.ports import free_port


async def _subscribers(url: str, count: int, stop: asyncio.Event, got: list[int], closed: list[int]) -> None:
    async def one() -> None:
        try:
            async with websockets.connect(url, max_queue=None) as ws:
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), 0.5)
                        got[0] += 1
                    except TimeoutError:
                        continue
        except websockets.ConnectionClosed:
            closed[0] += 1

    await asyncio.gather(*(one() for _ in range(count)))


async def _measure(
    api: str, model: str, ids: list[str], labels: list[str], args: Any, subs: int
) -> dict[str, Any]:
    stop = asyncio.Event()
    got, closed = [0], [0]
    watchers = asyncio.create_task(_subscribers(f"ws{api[4:]}/ws/metrics", subs, stop, got, closed))
    await asyncio.sleep(2 + subs / 100)  # every subscriber connected
    done, errors = 0, 0
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        deadline = time.monotonic() + args.seconds

        async def poster(k: int) -> None:
            nonlocal done, errors
            i = k
            while time.monotonic() < deadline:
                body = {"prediction_id": ids[i % len(ids)], "label": labels[i % len(labels)]}
                r = await client.post(f"/v1/monitoring/{model}/feedback", json=body)
                done, errors = done + (r.status_code == 200), errors + (r.status_code != 200)
                i += args.concurrency

        start = time.monotonic()
        await asyncio.gather(*(poster(k) for k in range(args.concurrency)))
        elapsed = time.monotonic() - start
    stop.set()
    await watchers
    return {"subscribers": subs, "feedback_per_s": done / elapsed, "errors": errors,
            "messages_received": got[0], "subscribers_closed": closed[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[0, 100, 300])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        api_port = free_port()
        argv = [sys.executable, "-m", "modelserve", "up", "-r", f"{tmp}/repo", "--work-dir", f"{tmp}/w"]
        argv += ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--api-port", str(api_port)]
        from modelserve.families.tabular.demo import export_demo_set

        model = export_demo_set(Path(tmp) / "repo")[0]
        env = {**os.environ, "MODELSERVE_MONITORING_URL": f"sqlite:///{tmp}/monitoring.sqlite"}
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{api_port}"
        try:
            record = dict(zip(model.feature_names, (float(v) for v in model.sample[0]), strict=True))
            with httpx.Client(base_url=api, timeout=10) as client:
                for _ in range(600):
                    try:
                        if client.get("/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.2)
                answers = [client.post(f"/v1/models/{model.name}/predict", json=[record] * 100).json()
                           for _ in range(20)]  # fmt: skip
            ids = [p["prediction_id"] for a in answers for p in a["predictions"]]
            labels = [p["prediction"] for a in answers for p in a["predictions"]]
            rows = [asyncio.run(_measure(api, model.name, ids, labels, args, n)) for n in args.subscribers]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    print(f"\nFeedback at concurrency {args.concurrency}, {args.seconds:g} s per row\n")
    print(f"{'subscribers':>12}{'feedback/s':>12}{'errors':>8}{'ws messages':>13}{'closed':>8}")
    for r in rows:
        print(f"{r['subscribers']:>12}{r['feedback_per_s']:>12.1f}{r['errors']:>8}"
              f"{r['messages_received']:>13}{r['subscribers_closed']:>8}")  # fmt: skip
    base = rows[0]["feedback_per_s"]
    for r in rows[1:]:
        print(f"{r['subscribers']} subscribers: {r['feedback_per_s'] / base:.2f}x the baseline's throughput")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"feedback-fanout-{time.strftime('%Y-%m-%d')}.json"
    document = {"benchmark": "feedback-fanout", "machine": machine_info(), "concurrency": args.concurrency,
                "seconds": args.seconds, "rows": rows}  # fmt: skip
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
