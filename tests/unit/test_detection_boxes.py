"""Boxes come back in the image's pixels: inside the image, for both preprocessing layouts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from modelserve.contracts.yolo import detect
from modelserve.families.detection.handler import prepare

CONTRACT = {"input": {"name": "images", "shape": [1, 3, 64, 64]}}


@pytest.mark.parametrize("layout", ["darknet", "yolov8"])
def test_boxes_past_the_edge_end_at_the_edge_and_boxes_outside_are_dropped(layout: str) -> None:
    image = Image.new("RGB", (160, 90))
    tensor, to_image = prepare(image, {**CONTRACT, "layout": layout})
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    # cx, cy, w, h (input pixels), objectness, two class scores
    rows = np.array(
        [
            [32, 32, 200, 200, 1, 0.9, 0.1],  # far larger than the image
            [-100, -100, 10, 10, 1, 0.8, 0.2],  # wholly outside
            [10, 32, 8, 8, 1, 0.1, 0.7],  # inside
        ],
        np.float32,
    )
    found = detect(rows, to_image=to_image, class_names=["a", "b"], confidence=0.5, iou=0.4)
    assert [d.label for d in found] == ["a", "b"]
    for d in found:
        x, y, w, h = d.box
        assert min(x, y) >= 0 and w > 0 and h > 0
        assert x + w <= 160 + 1e-6 and y + h <= 90 + 1e-6
    assert found[0].box == pytest.approx((0.0, 0.0, 160.0, 90.0))
