"""YOLO object detection (Darknet YOLOv3 and YOLOv8-style graphs): boxes, labels, confidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelserve.families.detection.contract import DetectionContract
from modelserve.families.detection.options import DARKNET, YOLOV8
from modelserve.families.family import Family

if TYPE_CHECKING:
    from fastapi import APIRouter

    from modelserve.serving.catalog import Catalog, Served


def _routers() -> Sequence[APIRouter]:
    from modelserve.families.detection import handler

    return (handler.router,)


def _classes(served: Served[Any], catalog: Catalog) -> Sequence[str]:
    from modelserve.families.detection.handler import NOTHING

    return (*served.contract.decoding.get("class_names", []), NOTHING)


FAMILY = Family(
    name="detection",
    summary="an image -> boxes with labels and confidence (POST /v1/vision/{name}/detect)",
    contracts=(DetectionContract,),
    exports=(DARKNET, YOLOV8),
    routers=_routers,
    monitoring="per image: the most confident detection's label and confidence ('none' without one)",
    feedback_classes=_classes,
)
