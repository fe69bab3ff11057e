"""Decoding YOLO outputs (the contracts the exporters record) into boxes; pure numpy.

``darknet_v3_raw``: each head is the raw conv map [N, A*(5+C), h, w]; decoding follows OpenCV's
Region layer (sigmoid x/y with ``scale_x_y``, exp w/h times the anchor, objectness x class sigmoid).
``yolov8``: one output [N, 4+C, B] with cx, cy, w, h in input pixels and class scores.
Both decode to rows [x_center, y_center, width, height, objectness, class scores...] in input
pixels; ``detect`` then keeps rows whose best class score passes the threshold and applies
class-agnostic NMS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x.astype(np.float64))))


def decode_darknet_head(
    raw: np.ndarray,
    *,
    anchors: Sequence[Sequence[float]],
    classes: int,
    scale_x_y: float,
    input_hw: tuple[int, int],
) -> np.ndarray:
    """[N, A*(5+C), h, w] -> [N, h*w*A, 5+C] in input pixels, rows in OpenCV's Region order."""
    batch, _, rows, cols = raw.shape
    count = len(anchors)
    cells = raw.reshape(batch, count, 5 + classes, rows, cols).transpose(0, 3, 4, 1, 2)
    cells = cells.reshape(batch, rows * cols * count, 5 + classes).astype(np.float64)
    gy, gx, _ = np.meshgrid(np.arange(rows), np.arange(cols), np.arange(count), indexing="ij")
    anchor = np.tile(np.asarray(anchors, dtype=np.float64), (rows * cols, 1))
    height, width = input_hw
    out = np.empty_like(cells)
    out[..., 0] = (gx.ravel() + (_sigmoid(cells[..., 0]) - 0.5) * scale_x_y + 0.5) / cols * width
    out[..., 1] = (gy.ravel() + (_sigmoid(cells[..., 1]) - 0.5) * scale_x_y + 0.5) / rows * height
    out[..., 2] = np.exp(cells[..., 2]) * anchor[:, 0]
    out[..., 3] = np.exp(cells[..., 3]) * anchor[:, 1]
    out[..., 4] = _sigmoid(cells[..., 4])
    out[..., 5:] = out[..., 4:5] * _sigmoid(cells[..., 5:])
    return out


def decode_yolov8(output: np.ndarray) -> np.ndarray:
    """[N, 4+C, B] -> [N, B, 5+C] (objectness 1: v8 has none; scores already sigmoid)."""
    rows = output.transpose(0, 2, 1).astype(np.float64)
    ones = np.ones((*rows.shape[:2], 1))
    return np.concatenate([rows[..., :4], ones, rows[..., 4:]], axis=-1)


def decode(outputs: Mapping[str, np.ndarray], contract: Mapping[str, Any]) -> np.ndarray:
    """All heads of one batch, decoded and concatenated: [N, rows, 5+C] in input pixels."""
    shape = contract["input"]["shape"]
    input_hw = (int(shape[-2]), int(shape[-1]))
    if contract["layout"] == "yolov8":
        return decode_yolov8(outputs[contract["outputs"][0]["name"]])
    heads = [
        decode_darknet_head(
            outputs[head["name"]],
            anchors=head["anchors"],
            classes=int(head["classes"]),
            scale_x_y=float(head.get("scale_x_y", 1.0)),
            input_hw=input_hw,
        )
        for head in contract["outputs"]
    ]
    return np.concatenate(heads, axis=1)


@dataclass(frozen=True, kw_only=True)
class Detection:
    class_id: int
    label: str
    confidence: float
    box: tuple[float, float, float, float]  # x, y (top-left), width, height in image pixels


def detect(
    rows: np.ndarray,
    *,
    to_image: Any,
    class_names: Sequence[str],
    confidence: float,
    iou: float,
) -> list[Detection]:
    """One detection per row whose best class score is over the threshold, boxes mapped to the image by
    ``to_image(x0, y0, x1, y1)``, then class-agnostic non-maximum suppression (OpenCV's NMSBoxes)."""
    import cv2

    scores = rows[:, 5:]
    class_ids = scores.argmax(axis=1)
    best = scores[np.arange(len(rows)), class_ids]
    candidates = np.flatnonzero(best > confidence)
    boxes, confs, keep = [], [], []
    for i in candidates:
        cx, cy, w, h = rows[i, :4]
        x0, y0, x1, y1 = to_image(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if x1 <= x0 or y1 <= y0:
            continue  # nothing of it lies in the image
        boxes.append([float(x0), float(y0), float(x1 - x0), float(y1 - y0)])
        confs.append(float(best[i]))
        keep.append(int(i))
    chosen = cv2.dnn.NMSBoxes(boxes, confs, confidence, iou) if boxes else []
    out = []
    for j in np.asarray(chosen, dtype=int).reshape(-1):
        cid = int(class_ids[keep[j]])
        label = class_names[cid] if cid < len(class_names) else str(cid)
        out.append(Detection(class_id=cid, label=label, confidence=confs[j], box=tuple(boxes[j])))
    return sorted(out, key=lambda d: -d.confidence)
