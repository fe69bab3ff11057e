"""Errors of the exporters (a config or a write the repository refuses raises its own errors:
``modelserve.repository.errors``).

ExportError
├── ParityError             the ONNX model disagrees with its source framework
│   └── YoloParityError     ... with OpenCV's Darknet importer
├── SourceUnavailableError  weights/data could not be obtained (offline, missing file)
│   └── DarknetFormatError  a Darknet .cfg/.weights file is malformed or unsupported
└── YoloContractError       a graph lacks the output layout its YOLO decoding contract describes
"""

from __future__ import annotations


class ExportError(Exception):
    """Root of every error raised by ``export``."""


class ParityError(ExportError):
    """The exported model's answers differ from the source framework's beyond tolerance."""


class SourceUnavailableError(ExportError):
    """A model source (weights, data set, hub id) is not available here."""


class DarknetFormatError(SourceUnavailableError):
    """A Darknet .cfg/.weights file is malformed or unsupported; the message names file, line, section."""


class YoloContractError(ExportError):
    """An ONNX graph does not have the output layout a YOLO decoding contract describes."""


class YoloParityError(ParityError):
    """Our ONNX model's outputs differ from OpenCV's Darknet importer beyond tolerance."""
