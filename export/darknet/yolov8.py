"""Decoding contract for an already-exported YOLOv8-style ONNX (one output [N, 4+classes, boxes]).

Such a model (e.g. ultralytics' export, [1, 84, 8400] at 640x640) has no objectness: rows 0-3 are
box centre x, centre y, width, height in input pixels, rows 4.. are per-class scores with the
sigmoid already applied; NMS is left to postprocessing. We only read the graph's declared shapes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from modelserve.export.errors import YoloContractError

logger = logging.getLogger(__name__)

LAYOUT = "yolov8"
HEAD_STRIDES = (8, 16, 32)
NOTE = (
    "Output [N, 4+C, B]: rows 0-3 = cx, cy, w, h in input pixels; rows 4.. = class scores (sigmoid "
    "already applied, no objectness). Score = max over classes; NMS in postprocessing."
)


@dataclass(frozen=True, kw_only=True)
class YoloV8Contract:
    input_name: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    batch: int | None  # None: dynamic
    output_name: str
    classes: int
    num_boxes: int
    strides: tuple[int, ...] | None  # HEAD_STRIDES when num_boxes is their grid total, else unknown
    layout: str = LAYOUT

    def to_dict(self) -> dict[str, Any]:
        batch = -1 if self.batch is None else self.batch
        return {
            "layout": self.layout,
            "input": {
                "name": self.input_name,
                "shape": [batch, *self.input_shape],
                "scale": 1.0 / 255.0,
                "channel_order": "RGB",
                "resize": "letterbox",
            },
            "outputs": [
                {
                    "name": self.output_name,
                    "shape": [batch, 4 + self.classes, self.num_boxes],
                    "classes": self.classes,
                    "num_boxes": self.num_boxes,
                    "strides": None if self.strides is None else list(self.strides),
                }
            ],
            "note": NOTE,
        }


def _dims(value: onnx.ValueInfoProto) -> list[int | None]:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]


def _load(model: onnx.ModelProto | Path | bytes) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        if isinstance(model, Path):
            return onnx.load(str(model), load_external_data=False)
        return onnx.load_from_string(model)
    except Exception as exc:  # onnx raises DecodeError/OSError variants
        raise YoloContractError(
            f"cannot read ONNX model {model if isinstance(model, Path) else ''}: {exc}"
        ) from exc


def inspect_yolov8(model: onnx.ModelProto | Path | bytes) -> YoloV8Contract:
    proto = _load(model)
    graph = proto.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise YoloContractError(
            f"expected 1 input and 1 output, got inputs {[v.name for v in inputs]}, "
            f"outputs {[v.name for v in graph.output]}"
        )
    image, output = inputs[0], graph.output[0]
    in_dims = _dims(image)
    if len(in_dims) != 4 or any(d is None for d in in_dims[1:]):
        raise YoloContractError(f"input '{image.name}' must be NCHW with static C, H, W; has {in_dims}")
    out_dims = _dims(output)
    if len(out_dims) != 3 or out_dims[1] is None or out_dims[2] is None:
        inferred = onnx.shape_inference.infer_shapes(proto).graph.output[0]
        out_dims = _dims(inferred)
    if len(out_dims) != 3 or out_dims[1] is None or out_dims[2] is None:
        raise YoloContractError(
            f"output '{output.name}' must be [N, 4+classes, boxes] with static dims; has {out_dims}"
        )
    channels, boxes = out_dims[1], out_dims[2]
    c, h, w = (int(d or 0) for d in in_dims[1:])
    grid_total = sum((h // s) * (w // s) for s in HEAD_STRIDES)
    if channels > boxes or (channels == grid_total != boxes):
        raise YoloContractError(
            f"output '{output.name}' {out_dims} looks transposed ([N, boxes, 4+classes]); "
            "expected [N, 4+classes, boxes]"
        )
    if channels <= 4:
        raise YoloContractError(f"output '{output.name}' {out_dims}: dim 1 must be 4 + classes (> 4)")
    strides = HEAD_STRIDES if grid_total == boxes else None
    if strides is None:
        logger.warning("%s boxes != %s for strides %s at %dx%d", boxes, grid_total, HEAD_STRIDES, h, w)
    contract = YoloV8Contract(
        input_name=image.name,
        input_shape=(c, h, w),
        batch=in_dims[0],
        output_name=output.name,
        classes=channels - 4,
        num_boxes=boxes,
        strides=strides,
    )
    logger.debug("yolov8 contract: %s", contract)
    return contract
