"""YOLO detection into the repository: Darknet cfg+weights (converted by us, checked against
OpenCV's own Darknet importer) or an already-exported YOLOv8-style ONNX. The decoding contract
(anchors/strides or the v8 layout, class names) goes into the metadata for the API's NMS.

OpenCV is pinned below 5 because 5.0 dropped ``cv2.dnn.readNetFromDarknet``, our parity reference.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from modelserve.export.darknet.cfg import load_cfg
from modelserve.export.darknet.coco import COCO80_NAMES
from modelserve.export.darknet.graph import build_onnx
from modelserve.export.darknet.parity import check_parity
from modelserve.export.darknet.weights import read_weights
from modelserve.export.darknet.yolov8 import inspect_yolov8
from modelserve.export.errors import ParityError, SourceUnavailableError
from modelserve.export.provenance import local
from modelserve.families.detection.contract import DetectionContract
from modelserve.repository import ModelRepository, WrittenVersion
from modelserve.repository.spec import DynamicBatching, ModelEntry, TensorConfig

MAX_BATCH = 16


def read_names(path: Path | None, classes: int) -> tuple[str, ...]:
    """Class names from a file (one per line, like coco.names), or COCO's 80 when the count fits."""
    if path is None:
        if classes != len(COCO80_NAMES):
            raise SourceUnavailableError(
                f"the model has {classes} classes: pass --names with one name per line"
            )
        return COCO80_NAMES
    if not path.is_file():
        raise SourceUnavailableError(f"{path}: no such names file")
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(names) != classes:
        raise SourceUnavailableError(f"{path} has {len(names)} names but the model has {classes} classes")
    return names


def _entry(name: str, model: onnx.ModelProto) -> ModelEntry:
    """Inputs/outputs straight from the graph: one float image tensor in, float maps out."""

    def dims(value: onnx.ValueInfoProto) -> tuple[int, ...]:
        return tuple(
            d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim[1:]
        )

    initializers = {i.name for i in model.graph.initializer}
    return ModelEntry(
        name=name,
        max_batch_size=MAX_BATCH,
        inputs=tuple(
            TensorConfig(name=v.name, data_type="FP32", dims=dims(v))
            for v in model.graph.input
            if v.name not in initializers
        ),
        outputs=tuple(TensorConfig(name=v.name, data_type="FP32", dims=dims(v)) for v in model.graph.output),
        dynamic_batching=DynamicBatching(max_queue_delay_us=1000),
    )


def _write(
    repository: ModelRepository | Path,
    name: str,
    model: onnx.ModelProto,
    classes: Sequence[str],
    version: int | None,
    metadata: dict[str, Any],
) -> WrittenVersion:
    """Write the version with its class names (labels.txt beside model.onnx) in the contract too."""
    metadata["decoding"]["class_names"] = list(classes)
    contract = DetectionContract(**metadata)
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels.txt"
        labels.write_text("\n".join(classes) + "\n")
        return ModelRepository.of(repository).write_version(
            _entry(name, model),
            model,
            version=version,
            extra_files={"labels.txt": labels},
            contract=contract,
        )


def export_darknet(
    repository: ModelRepository | Path,
    name: str,
    cfg: Path,
    weights: Path,
    *,
    names: Path | None = None,
    random_weights: bool = False,
    version: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> WrittenVersion:
    """``random_weights``: the weights file holds random initialisation (tests, demos)."""
    for path, what in ((cfg, "cfg"), (weights, "weights")):
        if not path.is_file():
            raise SourceUnavailableError(f"{path}: no such {what} file")
    config = load_cfg(cfg)
    progress(f"converting {cfg.name} + {weights.name}")
    model, contract = build_onnx(config, read_weights(weights, config))
    classes = read_names(names, contract.outputs[0].classes)
    progress("checking against OpenCV's Darknet importer (batch 2, random images)")
    report = check_parity(config, weights, model.SerializeToString(), contract, batch=2)
    return _write(
        repository,
        name,
        model,
        classes,
        version,
        {
            "source": {"cfg": str(cfg), "weights": str(weights)},
            "provenance": local(weights, random=random_weights),
            "framework": "darknet",
            "versions": {"opencv": pkg_version("opencv-python-headless"), "onnx": onnx.__version__},
            "decoding": contract.to_dict(),
            "preprocessing": "RGB, stretch-resize to the input size, x 1/255, NCHW "
            "(cv2.dnn.blobFromImage with swapRB=True, crop=False)",
            "parity": {
                "reference": "cv2.dnn.readNetFromDarknet",
                "max_abs_diff": report.max_abs,
                "heads": [asdict(h) for h in report.heads],
            },
        },
    )


def export_yolov8(
    repository: ModelRepository | Path,
    name: str,
    onnx_path: Path,
    *,
    names: Path | None = None,
    random_weights: bool = False,
    version: int | None = None,
) -> WrittenVersion:
    """Take an already-exported YOLOv8-style ONNX ([N, 4+C, B] output) as it is; no ultralytics.
    Its weights are in the file: provenance ``local`` (or ``random`` when the caller says so)."""
    if not onnx_path.is_file():
        raise SourceUnavailableError(f"{onnx_path}: no such ONNX file")
    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:  # protobuf decode errors have no common base
        raise SourceUnavailableError(f"{onnx_path}: not an ONNX model ({exc})") from exc
    contract = inspect_yolov8(model)
    classes = read_names(names, contract.classes)
    # The source *is* ONNX: check that it runs and gives the contract's shape on random images.
    c, h, w = contract.input_shape
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    batch = 2 if contract.batch is None else contract.batch
    x = np.random.default_rng(0).random((batch, c, h, w), dtype=np.float32)
    (out,) = session.run([contract.output_name], {contract.input_name: x})
    if out.shape != (batch, 4 + contract.classes, contract.num_boxes) or not np.isfinite(out).all():
        raise ParityError(f"{onnx_path}: output {out.shape} does not match its contract or is not finite")
    return _write(
        repository,
        name,
        model,
        classes,
        version,
        {
            "source": str(onnx_path),
            "provenance": local(onnx_path, random=random_weights),
            "framework": "onnx (yolov8 layout)",
            "decoding": contract.to_dict(),
            "preprocessing": "RGB, letterbox to the input size, x 1/255, NCHW",
            "parity": {"check": "runs in ONNX Runtime with the contract's output shape", "batch": batch},
        },
    )
