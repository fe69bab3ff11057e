"""The detection kind: an image -> boxes, decoded as the YOLO decoding contract says."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from modelserve.contracts.model import ContractBase


class DetectionContract(ContractBase):
    kind: Literal["detection"] = "detection"
    decoding: dict[str, Any]  # contracts.yolo's decoding contract: layout, input, outputs, class_names

    @field_validator("decoding")
    @classmethod
    def _decoding(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("layout") not in ("darknet_v3_raw", "yolov8"):
            raise ValueError(f"decoding.layout {value.get('layout')!r}; expected darknet_v3_raw or yolov8")
        if not isinstance(value.get("input"), dict) or not value.get("outputs"):
            raise ValueError("decoding needs 'input' (name, shape) and 'outputs'")
        return value
