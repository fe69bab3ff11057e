"""Image classification and feature extraction (Keras ResNet50 / VGG16), and the OpenCV image
enhancements that need no model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelserve.families.family import Family
from modelserve.families.vision.contract import ImageClassifierContract, ImageFeaturesContract
from modelserve.families.vision.options import VISION

if TYPE_CHECKING:
    from fastapi import APIRouter

    from modelserve.serving.catalog import Catalog, Served


def _routers() -> Sequence[APIRouter]:
    from modelserve.families.vision import enhance, handler

    return (handler.router, enhance.router)


def _classes(served: Served[Any], catalog: Catalog) -> Sequence[str]:
    return tuple(catalog.labels(served))  # a features model has none: any label


FAMILY = Family(
    name="vision",
    summary="an image -> top-k labels, or a pooled embedding (POST /v1/vision/{name}/classify|features)",
    contracts=(ImageClassifierContract, ImageFeaturesContract),
    exports=(VISION,),
    routers=_routers,
    monitoring="classify: the top label and its confidence per image; features: nothing (an embedding "
    "is no prediction feedback could confirm or refute)",
    feedback_classes=_classes,
)
