"""The image kinds: an image -> top-k labels (classifier) or a pooled embedding (features)."""

from __future__ import annotations

from typing import Literal

from modelserve.contracts.image import ImagePreprocessing
from modelserve.contracts.model import ContractBase


class _ImageContract(ContractBase):
    image: ImagePreprocessing
    input: str = "images"


class ImageClassifierContract(_ImageContract):
    kind: Literal["image-classifier"] = "image-classifier"
    output: str = "probabilities"


class ImageFeaturesContract(_ImageContract):
    kind: Literal["image-features"] = "image-features"
    output: str = "embedding"
