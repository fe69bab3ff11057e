"""GPU check: does the embedded Triton serve as fast as ONNX Runtime alone under concurrency?

In one call, on one machine, with one model (random weights, nothing downloaded):
  1. direct: ONNX Runtime alone (a plain session, numpy in and out, its default CUDA options) at batch
     sizes 1..64; the same with cuDNN's heuristic algorithm search; our backend's runner with its
     page-locked staging; and batch sizes drawn at random from 1..16 without buckets (per-shape cost);
  2. served: the embedded Triton with our backend (KIND_GPU), closed loop over gRPC at each concurrency,
     batch 1 per request, in several backend configurations (``VARIANTS``). Clients run in several
     processes so that the client is not what is measured. Triton's statistics give the batch each
     execution formed and its compute time; each row is compared with ONNX Runtime alone at that batch
     (interpolated between the measured sizes), and one served answer is checked against ORT's.

    python -m modelserve.benchmarks.gpu_concurrency --model resnet50 --device cuda --out "$OUT/served.json"
    python -m modelserve.benchmarks.gpu_concurrency --model mlp --device cpu --seconds 1  # dry run, CPU

The JSON is rewritten after every row, so a run cut off at its limit still leaves what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from modelserve.benchmarks.gpu_served_model import build_model, ort_session
from modelserve.benchmarks.stats import machine_info, summarise
from modelserve.client import AsyncTritonClient, ClientError, ModelStatistics
from modelserve.ops.stack import local_triton
from modelserve.repository import ModelRepository
from modelserve.repository.spec import DynamicBatching, InstanceGroup, ModelEntry, TensorConfig
from modelserve.serve.backend import modelserve_parameters as P
from modelserve.serve.backend.modelserve_ort_runner import OrtRunner, RunnerSettings

MAX_BATCH = 64
DIRECT_BATCHES = (1, 2, 4, 8, 16, 32, 64)
CLIENT_PROCESSES = 4


@dataclass(frozen=True)
class Variant:
    parameters: dict[str, str] = field(default_factory=dict)
    instances: int = 1
    batching: bool = True
    preferred: tuple[int, ...] = ()  # dynamic batching's preferred batch sizes


# The backend's defaults for KIND_GPU: buckets warmed at load, page-locked staging, one intra-op
# thread without spinning, cuDNN exhaustive search. Each other variant changes one thing, except
# "before", which is the backend as it was before any GPU run.
VARIANTS: dict[str, Variant] = {
    "default": Variant(),
    "before: no staging, ORT threads spinning, heuristic": Variant(
        {
            P.HOST_STAGING: "false",
            P.INTRA_OP_THREADS: "0",
            P.ALLOW_SPINNING: "1",
            P.CUDNN_CONV_ALGO_SEARCH: "1",
        }
    ),
    "default, ORT threads spinning": Variant({P.INTRA_OP_THREADS: "0", P.ALLOW_SPINNING: "1"}),
    "default, no buckets (so no staging)": Variant({P.PAD_BATCH_TO_BUCKETS: "false"}),
    "default, one dynamic session": Variant({P.SESSION_PER_BUCKET: "false"}),
    "default, no staging": Variant({P.HOST_STAGING: "false"}),
    "default, 2 instances": Variant(instances=2),
    "default, no dynamic batching": Variant(batching=False),
    "default, 2 instances, preferred 16/32/64": Variant(instances=2, preferred=(16, 32, 64)),
    "default, 3 instances": Variant(instances=3),
    "default, 4 instances": Variant(instances=4),
}


def _config(item: tuple[int, ...], out: tuple[int, ...], params: dict[str, str]) -> dict[str, Any]:
    """The config JSON as Triton hands it to the backend, for the direct runs of the runner."""
    return {
        "max_batch_size": MAX_BATCH,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": list(item)}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": list(out)}],
        "parameters": {k: {"string_value": v} for k, v in params.items()},
    }


def _loop(step: Callable[[int], object], batches: Callable[[], int], seconds: float) -> dict[str, Any]:
    latencies, items, began = [], 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        n = batches()
        t0 = time.perf_counter()
        step(n)
        latencies.append(time.perf_counter() - t0)
        items += n
    s = summarise(latencies, seconds=time.perf_counter() - began)
    return {**asdict(s), "items_per_s": items / s.seconds}


def _fixed(batch: int) -> Callable[[], int]:
    return lambda: batch


def _session_step(sess: Any, inputs: dict[int, np.ndarray]) -> Callable[[int], object]:
    return lambda n: sess.run(None, {"x": inputs[n]})


def _runner_step(
    runner: OrtRunner, inputs: dict[int, np.ndarray], sliced: bool = False
) -> Callable[[int], object]:
    if sliced:  # any size: the first n rows of the largest input
        return lambda n: runner.run([{"x": inputs[max(inputs)][:n]}])
    return lambda n: runner.run([{"x": inputs[n]}])


def _runner(
    model_path: Path, item: tuple[int, ...], out: tuple[int, ...], cuda: bool, **params: str
) -> OrtRunner:
    config = _config(item, out, params)
    runner = OrtRunner(
        str(model_path), RunnerSettings.from_triton(config, kind="GPU" if cuda else "CPU", device_id=0)
    )
    runner.warm_up()
    return runner


def direct(
    model_path: Path, item: tuple[int, ...], out: tuple[int, ...], cuda: bool, seconds: float, quick: bool
) -> list[dict[str, Any]]:
    """Batch-size churn through the runner, ORT alone at fixed sizes, then the runner at fixed sizes
    (``quick``: churn and ORT alone only)."""
    rng = np.random.default_rng(1)
    inputs = {b: rng.standard_normal((b, *item), dtype=np.float32) for b in DIRECT_BATCHES}
    rows: list[dict[str, Any]] = []
    for label, pad in (
        ("runner, no buckets, random 1..16", "false"),
        ("runner, buckets (default), random 1..16", "true"),
    ):
        churn = _runner(model_path, item, out, cuda, pad_batch_to_buckets=pad)
        r = _loop(_runner_step(churn, inputs, sliced=True), lambda: int(rng.integers(1, 17)), seconds)
        rows.append({"path": label, "batch": None, "sessions": len(churn.sessions), **r})
        del churn
    for label, search in (("ort alone", None), ("ort alone, heuristic", "HEURISTIC"))[: 1 if quick else 2]:
        sess = ort_session(model_path, cuda, search)
        for b in DIRECT_BATCHES if search is None else (1, 8, 32, 64):
            sess.run(None, {"x": inputs[b]})  # first run of a shape: allocation and algorithm search
            r = _loop(_session_step(sess, inputs), _fixed(b), seconds)
            rows.append({"path": label, "batch": b, **r})
        del sess
    if quick:
        return rows
    staged = _runner(model_path, item, out, cuda, pad_batch_to_buckets="true", host_staging="true")
    pinned = bool(staged.staging and staged.staging.pinned)
    for b in (1, 8, 32, 64):
        r = _loop(_runner_step(staged, inputs), _fixed(b), seconds)
        rows.append({"path": "runner, staging", "batch": b, "pinned": pinned, **r})
    return rows


def _client_worker(
    url: str, x: np.ndarray, concurrency: int, start_at: float, seconds: float
) -> tuple[list[float], int]:
    """One client process: ``concurrency`` closed loops from ``start_at`` (wall clock) for ``seconds``."""

    async def main() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        async with AsyncTritonClient(url, timeout_s=60) as client:
            for _ in range(3):
                await client.infer("m", {"x": x})
            await asyncio.sleep(max(start_at - time.time(), 0))
            deadline = time.perf_counter() + seconds

            async def loop() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    try:
                        await client.infer("m", {"x": x})
                        latencies.append(time.perf_counter() - t0)
                    except ClientError:
                        errors += 1

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        return latencies, errors

    return asyncio.run(main())


def _shares(concurrency: int, processes: int) -> list[int]:
    n = min(processes, concurrency)
    return [concurrency // n + (1 if i < concurrency % n else 0) for i in range(n)]


async def _stats(url: str) -> ModelStatistics:
    async with AsyncTritonClient(url, timeout_s=60) as client:
        return (await client.statistics("m"))[0]


async def _answer(url: str, x: np.ndarray) -> np.ndarray:
    async with AsyncTritonClient(url, timeout_s=60) as client:
        return (await client.infer("m", {"x": x}))["y"]


def closed_loop(
    pool: ProcessPoolExecutor, url: str, x: np.ndarray, concurrency: int, seconds: float
) -> dict[str, Any]:
    before = asyncio.run(_stats(url))
    start_at = time.time() + 2.0  # every process has connected and warmed up by then
    futures = [
        pool.submit(_client_worker, url, x, c, start_at, seconds)
        for c in _shares(concurrency, CLIENT_PROCESSES)
    ]
    latencies: list[float] = []
    errors = 0
    for f in futures:
        lat, err = f.result()
        latencies += lat
        errors += err
    after = asyncio.run(_stats(url))
    executions = max(after.execution_count - before.execution_count, 1)
    inferences = after.inference_count - before.inference_count
    s = summarise(latencies, errors={"failed": errors} if errors else {}, seconds=seconds)

    def per_exec_ms(attr: str) -> float:
        # Triton adds an execution's duration to each request in it: the sum over requests, divided
        # by the requests, is the (request-weighted) duration of one execution.
        return float(getattr(after, attr).ns - getattr(before, attr).ns) / max(inferences, 1) / 1e6

    return {
        **asdict(s),
        "items_per_s": s.throughput,
        "client_processes": len(futures),
        "effective_batch": inferences / executions,
        "executions": executions,
        "compute_input_ms_per_exec": per_exec_ms("compute_input"),
        "compute_infer_ms_per_exec": per_exec_ms("compute_infer"),
        "compute_output_ms_per_exec": per_exec_ms("compute_output"),
        "queue_ms_per_req": (after.queue.ns - before.queue.ns) / max(inferences, 1) / 1e6,
    }


def served(
    model: onnx.ModelProto,
    item: tuple[int, ...],
    out: tuple[int, ...],
    cuda: bool,
    args: argparse.Namespace,
    reference: tuple[np.ndarray, np.ndarray],
    emit: Callable[[dict[str, Any]], None],
    work: Path,
) -> None:
    x = np.random.default_rng(2).standard_normal((1, *item), dtype=np.float32)
    names = [n.strip() for n in args.variants.split(";")] if args.variants else list(VARIANTS)
    with ProcessPoolExecutor(CLIENT_PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        for name in names:
            variant = VARIANTS[name]
            if time.perf_counter() > args.deadline:
                emit({"path": f"triton {name}", "status": "skipped: time budget spent"})
                continue
            repo = work / f"repo{names.index(name)}"
            entry = ModelEntry(
                name="m",
                max_batch_size=MAX_BATCH,
                inputs=(TensorConfig(name="x", data_type="FP32", dims=item),),
                outputs=(TensorConfig(name="y", data_type="FP32", dims=out),),
                dynamic_batching=(
                    DynamicBatching(max_queue_delay_us=200, preferred_batch_sizes=variant.preferred)
                    if variant.batching
                    else None
                ),
                instance_groups=(
                    InstanceGroup(kind="KIND_GPU" if cuda else "KIND_CPU", count=variant.instances),
                ),
                parameters=variant.parameters,
            )
            ModelRepository.of(repo).write_version(entry, model, version=1)
            began = time.perf_counter()
            try:
                with local_triton(repo, work / "w", ready_timeout_s=150) as server:
                    url = server.endpoints.grpc_url
                    got = asyncio.run(_answer(url, reference[0]))
                    rel = float(np.max(np.abs(got - reference[1])) / max(np.max(np.abs(reference[1])), 1e-12))
                    ready_s = time.perf_counter() - began
                    for c in args.concurrency:
                        row = closed_loop(pool, url, x, c, args.seconds)
                        emit(
                            {
                                "path": f"triton {name}",
                                "concurrency": c,
                                "parity_rel_to_max": rel,
                                "ready_s": ready_s,
                                "status": "ok",
                                **row,
                            }
                        )
            except Exception as exc:  # one variant failing must not lose the others
                emit({"path": f"triton {name}", "status": f"error: {exc!r:.400}", "log": server.log_tail(40)})


def interpolate(rows: list[dict[str, Any]], path: str, batch: float) -> float | None:
    """items/s of ``path`` at ``batch``, linear between the two measured sizes around it."""
    pts = sorted((r["batch"], r["items_per_s"]) for r in rows if r.get("path") == path and r.get("batch"))
    if not pts:
        return None
    bs, ys = zip(*pts, strict=True)
    return float(np.interp(batch, bs, ys))


def compare(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r.get("status") == "ok" and "effective_batch" in r:
            for path, key in (("ort alone", "ratio_to_ort_alone"), ("runner, staging", "ratio_to_runner")):
                base = interpolate(rows, path, r["effective_batch"])
                if base:
                    r[key.replace("ratio", "items_per_s")] = base
                    r[key] = r["items_per_s"] / base


def print_table(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        where = r.get("batch") if "batch" in r else r.get("concurrency", "")
        if "items_per_s" not in r:
            print(f"{r['path']:<52} {where!s:>5} {r.get('status')}")
            continue
        line = f"{r['path']:<52} {where!s:>5} {r['items_per_s']:>8.0f}/s"
        line += f" p50 {r['p50_ms']:>7.2f} p99 {r['p99_ms']:>7.2f}"
        if "effective_batch" in r:
            line += (
                f" b~{r['effective_batch']:.1f} infer {r['compute_infer_ms_per_exec']:.2f}ms"
                f" vs ORT {r.get('ratio_to_ort_alone', 0):.2f} parity {r['parity_rel_to_max']:.1e}"
            )
        print(line, flush=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--model", choices=["resnet50", "mlp"], default="mlp")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cpu")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--seconds", type=float, default=4.0, help="per measured point")
    p.add_argument("--variants", default="", help="';'-separated names from VARIANTS (default: all)")
    p.add_argument("--quick-direct", action="store_true", help="churn and ORT alone only")
    p.add_argument("--time-budget-s", type=float, default=240.0, help="no new variant starts after this")
    p.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = p.parse_args(argv)
    args.deadline = time.perf_counter() + args.time_budget_s
    cuda = args.device == "cuda"
    result: dict[str, Any] = {"machine": machine_info(), "args": {k: str(v) for k, v in vars(args).items()}}
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        compare(rows)
        print_table([row])
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(
                json.dumps(
                    {**result, "variants": {k: asdict(v) for k, v in VARIANTS.items()}, "rows": rows},
                    indent=1,
                )
            )

    model, item, out = build_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "model.onnx"
        onnx.save(model, str(path))
        for row in direct(path, item, out, cuda, args.seconds, args.quick_direct):
            emit(row)
        probe = np.random.default_rng(3).standard_normal((1, *item), dtype=np.float32)
        expected = ort_session(path, cuda, None).run(None, {"x": probe})[0]
        served(model, item, out, cuda, args, (probe, expected), emit, work)
    return {**result, "rows": rows}


if __name__ == "__main__":
    main()
