"""ResNet50 classification: what the API adds to Triton.

The same model (Keras ResNet50 with random weights: the compute of the ImageNet one, offline) three
ways in one run: the API's classify route with a JPEG (decode, resize, Triton, top-k labels),
Triton directly over gRPC with the already-preprocessed tensor, and ONNX Runtime in this process.
The issue's goal: the API adds at most 15% to the end-to-end latency of the direct call.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from PIL import Image

from modelserve.benchmarks.measure import Measured, Sweep, measure
from modelserve.benchmarks.report import Row
from modelserve.benchmarks.targets import HttpTarget, InProcessTarget, TritonTarget
from modelserve.ops.stack import api_process, local_triton

MODEL = "resnet50"


def jpeg(seed: int = 0, size: tuple[int, int] = (480, 640)) -> bytes:
    """A camera-sized JPEG (the API resizes it to 224x224, as for a real upload)."""
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def run(
    sweep_points: Sweep,
    *,
    batches: tuple[int, ...] = (1,),
    work_dir: Path | None = None,
    echo: Callable[[Row], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    from modelserve.families.vision.exporter import export_keras_vision

    if batches != (1,):
        raise ValueError("the vision scenario sends one image per request (--batch 1)")
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        written = export_keras_vision(tmp / "repo", MODEL, "resnet50")
        # A throwaway server on loopback; nothing here loads or unloads.
        triton = stack.enter_context(local_triton(tmp / "repo", tmp / "triton", lock_control_plane=False))
        grpc_url = triton.endpoints.grpc_url
        api = stack.enter_context(api_process(grpc_url, tmp / "repo", tmp / "logs" / "api.log"))
        image = jpeg()
        # The tensor the API would send for that image: same shape and dtype (values don't change
        # the compute of a CNN).
        tensor = {"images": np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)}
        route = f"{api.base_url}/v1/vision/{MODEL}/classify?k=5"
        group = "vision-resnet50"
        model_path = written[0].model_path
        items = [
            Measured(
                name="api classify resnet50",
                make=lambda: HttpTarget("api classify resnet50", route, image, content_type="image/jpeg"),
                group=group,
                triton_model=MODEL,
            ),
            Measured(
                name="triton grpc resnet50",
                make=lambda: TritonTarget("triton grpc resnet50", grpc_url, MODEL, tensor),
                group=group,
                triton_model=MODEL,
            ),
            Measured(
                name="onnxruntime in-process resnet50",
                make=lambda: InProcessTarget("onnxruntime in-process resnet50", model_path, tensor),
                group=group,
            ),
        ]
        rows = measure(items, sweep_points, grpc_url=grpc_url, echo=echo, progress=progress)
    return rows
