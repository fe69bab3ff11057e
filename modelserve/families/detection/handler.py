"""``POST /v1/vision/{name}/detect?confidence=0.5&iou=0.4``: YOLO detection with boxes in the
original image's pixels. Preprocessing follows the model's recorded contract (Darknet: stretch to
the input size as ``cv2.dnn.blobFromImage`` does; YOLOv8: letterbox), decoding and NMS in
contracts.yolo, all CPU work in a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import APIRouter, Depends, Query
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from modelserve.contracts.yolo import decode, detect
from modelserve.families.detection.contract import DetectionContract
from modelserve.serving.call import Call, ModelAnswer, call_for
from modelserve.serving.uploads import read_image

router = APIRouter()
NOTHING = "none"  # what an image without detections records
DetectionCall = Annotated[Call[DetectionContract], Depends(call_for(DetectionContract))]


class Box(BaseModel):
    x: float  # top-left corner, image pixels
    y: float
    width: float
    height: float


class DetectedObject(BaseModel):
    label: str
    class_id: int
    confidence: float
    box: Box


class ImageSize(BaseModel):
    width: int
    height: int


class DetectResponse(ModelAnswer):
    image: ImageSize
    detections: list[DetectedObject]
    prediction_id: str | None = None  # the most confident detection's (or "none"), for feedback


Mapper = Callable[[float, float, float, float], tuple[float, float, float, float]]


def prepare(image: Image.Image, contract: Mapping[str, Any]) -> tuple[np.ndarray, Mapper]:
    """RGB image -> NCHW float32 in [0, 1] at the input size, and the map back to image pixels."""
    rgb = np.asarray(image)
    resized: np.ndarray
    height, width = rgb.shape[:2]
    in_h, in_w = (int(v) for v in contract["input"]["shape"][-2:])
    if contract["layout"] == "yolov8":
        r = min(in_w / width, in_h / height)
        new_w, new_h = round(width * r), round(height * r)
        pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
        canvas = np.full((in_h, in_w, 3), 114, dtype=np.uint8)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(
            rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR
        )

        def unletterbox(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
            return ((x0 - pad_x) / r, (y0 - pad_y) / r, (x1 - pad_x) / r, (y1 - pad_y) / r)

        resized, mapper = canvas, unletterbox
    else:
        sx, sy = width / in_w, height / in_h
        resized = cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_LINEAR)

        def unstretch(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
            return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)

        mapper = unstretch

    def clipped(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        # A box the model drew past the edge ends at the edge: answers are in the image's pixels.
        a0, b0, a1, b1 = mapper(x0, y0, x1, y1)
        return (
            min(max(a0, 0.0), width),
            min(max(b0, 0.0), height),
            min(max(a1, 0.0), width),
            min(max(b1, 0.0), height),
        )

    tensor = (resized.astype(np.float32) / 255.0).transpose(2, 0, 1)[None, ...]
    return np.ascontiguousarray(tensor), clipped


@router.post(
    "/v1/vision/{name}/detect",
    response_model=DetectResponse,
    summary="Object detection (YOLO): boxes, labels, confidence",
)
async def detect_route(
    call: DetectionCall,
    confidence: float = Query(0.5, gt=0.0, lt=1.0),
    iou: float = Query(0.4, gt=0.0, le=1.0),
) -> DetectResponse:
    contract = call.contract.decoding
    async with read_image(call.request, call.svc) as (_, image):
        tensor, mapper = await run_in_threadpool(prepare, image, contract)
    outputs = await call.infer({contract["input"]["name"]: tensor})
    contract = call.contract.decoding  # the answering version's, after a switch
    rows = decode(outputs, contract)[0]
    found = await run_in_threadpool(
        lambda: detect(
            rows, to_image=mapper, class_names=contract.get("class_names", []), confidence=confidence, iou=iou
        )
    )
    best = max(found, key=lambda d: d.confidence, default=None)
    ids = call.record([best.label if best else NOTHING], [best.confidence if best else 0.0])
    return call.answer(
        DetectResponse,
        image=ImageSize(width=image.width, height=image.height),
        detections=[
            DetectedObject(
                label=d.label,
                class_id=d.class_id,
                confidence=d.confidence,
                box=Box(**dict(zip(("x", "y", "width", "height"), d.box, strict=True))),
            )
            for d in found
        ],
        prediction_id=ids[0] if ids else None,
    )
