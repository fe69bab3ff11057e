"""How the API turns an image into a vision graph's input: part of the image families' contracts
(``ImageClassifierContract``, ``ImageFeaturesContract``), read by the shared decoding code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ImagePreprocessing(BaseModel):
    """How the API turns an image into the graph's input; the rest happens inside the graph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: Literal["NHWC", "NCHW"] = "NHWC"
    size: tuple[int, int]  # height, width
    channel_order: Literal["RGB", "BGR"] = "RGB"
    range: tuple[float, float] = (0.0, 255.0)
    resize: Literal["nearest", "bilinear"] = "nearest"
    in_graph: str = ""
