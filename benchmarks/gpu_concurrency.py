"""Prepared GPU check: does the embedded Triton keep up with ONNX Runtime under concurrency?

Runs, in one call, on one machine:
  1. direct: OrtRunner (the very class the backend runs) at fixed batch sizes, and at batch sizes
     drawn at random from 1..16 with and without bucket padding (per-shape cost in ONNX Runtime?);
  2. served: the embedded Triton with our backend, closed loop over gRPC at several concurrencies,
     in three configs: dynamic batching + buckets (ours), dynamic batching without buckets, and no
     dynamic batching (is the stub's transport the cost?). Triton's statistics give the effective
     batch and compute time per execution; each served row is compared with direct throughput at
     the same effective batch (goal: >= 0.8).

    python -m benchmarks.gpu_concurrency --model resnet50 --device cuda --out results/
    python -m benchmarks.gpu_concurrency --model mlp --device cpu --seconds 2      # dry run on a CPU box

``resnet50`` needs torch + torchvision (random weights, nothing downloaded); ``mlp`` needs nothing.
On the GPU machine install onnxruntime-gpu, tritonclient and nvidia-pytriton into the interpreter
the stub uses (INTO_VENV=1), then run from the repository root with PYTHONPATH=. .
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from benchmarks.stats import machine_info, summarise
from client import AsyncTritonClient, ClientError
from export.repository import write_model
from export.spec import DynamicBatching, InstanceGroup, InstanceKind, ModelEntry, TensorConfig
from serve.backend.modelserve_ort_runner import OrtRunner, RunnerSettings
from serve.server import EmbeddedTriton
from serve.settings import ServerSettings

MAX_BATCH = 64


def build_model(kind: str) -> tuple[onnx.ModelProto, tuple[int, ...]]:
    """Random-weight model and its per-item input shape."""
    if kind == "resnet50":
        import torch
        import torchvision

        net = torchvision.models.resnet50(weights=None).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "resnet50.onnx"
            torch.onnx.export(
                net,
                (torch.randn(1, 3, 224, 224),),
                str(path),
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                opset_version=17,
                dynamo=False,
            )
            return onnx.load(str(path)), (3, 224, 224)
    rng = np.random.default_rng(0)
    w1 = helper.make_tensor(
        "w1", TensorProto.FLOAT, [256, 512], rng.standard_normal((256, 512)).ravel().tolist()
    )
    w2 = helper.make_tensor(
        "w2", TensorProto.FLOAT, [512, 16], rng.standard_normal((512, 16)).ravel().tolist()
    )
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])],
        initializer=[w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, (256,)


def _triton_config(item: tuple[int, ...], out: tuple[int, ...], device: str, variant: str) -> dict[str, Any]:
    """The config JSON as Triton hands it to the backend, for the direct runs."""
    return {
        "max_batch_size": MAX_BATCH,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": list(item)}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": list(out)}],
        "parameters": {"pad_batch_to_buckets": {"string_value": "true" if variant == "buckets" else "false"}},
    }


def direct(
    model_path: Path, item: tuple[int, ...], out: tuple[int, ...], device: str, seconds: float
) -> list[dict[str, Any]]:
    rows = []
    kind = "GPU" if device == "cuda" else "CPU"
    rng = np.random.default_rng(1)
    for variant in ("buckets", "plain"):
        runner = OrtRunner(
            str(model_path),
            RunnerSettings.from_triton(_triton_config(item, out, device, variant), kind=kind, device_id=0),
        )
        runner.warm_up()
        plan: list[tuple[str, Any]] = (
            [(f"batch {b}", b) for b in (1, 8, 16, 32, 64)] if variant == "plain" else []
        )
        plan.append(("random 1..16", None))
        for label, batch in plan:
            latencies, items, began = [], 0, time.perf_counter()
            while time.perf_counter() - began < seconds:
                n = int(batch or rng.integers(1, 17))
                x = rng.standard_normal((n, *item), dtype=np.float32)
                t0 = time.perf_counter()
                result = runner.run([{"x": x}])[0]
                if isinstance(result, Exception):
                    raise result
                latencies.append(time.perf_counter() - t0)
                items += n
            s = summarise(latencies, seconds=time.perf_counter() - began)
            rows.append(
                {
                    "path": f"direct {variant}",
                    "shape": label,
                    "batch": batch,
                    **asdict(s),
                    "items_per_s": items / s.seconds,
                }
            )
    return rows


async def closed_loop(url: str, item: tuple[int, ...], concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    x = np.random.default_rng(2).standard_normal((1, *item), dtype=np.float32)
    async with AsyncTritonClient(url, timeout_s=60) as client:
        for _ in range(10):
            await client.infer("m", {"x": x})
        before = (await client.statistics("m"))[0]
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    await client.infer("m", {"x": x})
                    latencies.append(time.perf_counter() - t0)
                except ClientError:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        after = (await client.statistics("m"))[0]
    executions = max(after.execution_count - before.execution_count, 1)
    inferences = after.inference_count - before.inference_count
    infer_ns = after.compute_infer.ns - before.compute_infer.ns
    s = summarise(latencies, errors={"failed": errors} if errors else {}, seconds=elapsed)
    return {
        **asdict(s),
        "items_per_s": s.throughput,
        "effective_batch": inferences / executions,
        "compute_infer_ms_per_exec": infer_ns / executions / 1e6,
        "queue_ms_per_req": (after.queue.ns - before.queue.ns) / max(inferences, 1) / 1e6,
    }


def served(
    model: onnx.ModelProto,
    item: tuple[int, ...],
    out: tuple[int, ...],
    device: str,
    concurrency: list[int],
    seconds: float,
    work: Path,
) -> list[dict[str, Any]]:
    rows = []
    kind: InstanceKind = "KIND_GPU" if device == "cuda" else "KIND_CPU"
    variants = {
        "buckets": ("true", True),
        "dynamic, no buckets": ("false", True),
        "no batching": ("false", False),
    }
    for name, (pad, batching) in variants.items():
        repo = work / name.replace(" ", "_").replace(",", "")
        entry = ModelEntry(
            name="m",
            max_batch_size=MAX_BATCH,
            inputs=(TensorConfig(name="x", data_type="FP32", dims=item),),
            outputs=(TensorConfig(name="y", data_type="FP32", dims=out),),
            dynamic_batching=DynamicBatching(max_queue_delay_us=200) if batching else None,
            instance_groups=(InstanceGroup(kind=kind),),
            parameters={"pad_batch_to_buckets": pad},
        )
        write_model(repo, entry, model, version=1)
        settings = ServerSettings(
            repository=repo,
            http_port=0,
            grpc_port=0,
            metrics_port=0,
            work_dir=work / "w",
            ready_timeout_s=300,
        )
        with EmbeddedTriton(settings) as server:
            for c in concurrency:
                row = asyncio.run(closed_loop(server.endpoints.grpc_url, item, c, seconds))
                rows.append({"path": f"triton {name}", "concurrency": c, **row})
    return rows


def compare(rows: list[dict[str, Any]]) -> None:
    """Ratio of each served row to direct throughput at the nearest fixed batch <= its effective batch."""
    fixed = {r["batch"]: r["items_per_s"] for r in rows if r["path"] == "direct plain" and r["batch"]}
    for r in rows:
        if r["path"].startswith("triton") and fixed:
            nearest = max((b for b in fixed if b <= max(r["effective_batch"], 1)), default=min(fixed))
            r["direct_items_per_s_same_batch"] = fixed[nearest]
            r["ratio_to_direct"] = r["items_per_s"] / fixed[nearest]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=["resnet50", "mlp"], default="mlp")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cpu")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    model, item = build_model(args.model)
    out = (1000,) if args.model == "resnet50" else (16,)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_path = work / "model.onnx"
        onnx.save(model, str(model_path))
        rows = direct(model_path, item, out, args.device, args.seconds)
        rows += served(model, item, out, args.device, args.concurrency, args.seconds, work)
    compare(rows)
    for r in rows:
        print(
            f"{r['path']:<28} {r.get('shape', r.get('concurrency', '')):>14} {r['items_per_s']:>9.0f}/s "
            f"p50 {r['p50_ms']:>7.2f} p99 {r['p99_ms']:>7.2f} ms"
            + (
                f"  eff.batch {r['effective_batch']:.1f} ratio {r.get('ratio_to_direct', 0):.2f}"
                if "effective_batch" in r
                else ""
            )
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        result = {"machine": machine_info(), "args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}
        (args.out / f"gpu-concurrency-{args.model}-{args.device}.json").write_text(
            json.dumps(result, indent=2)
        )


if __name__ == "__main__":
    main()
