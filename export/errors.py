"""Errors of the exporters and the repository writer.

ExportError
├── ConfigValidationError   a config entry does not match its ONNX graph (the message names it)
├── ParityError             the ONNX model disagrees with its source framework
├── RepositoryWriteError    the repository entry could not be written (nothing half-written)
└── SourceUnavailableError  weights/data could not be obtained (offline, missing file)
"""

from __future__ import annotations


class ExportError(Exception):
    """Root of every error raised by ``export``."""


class ConfigValidationError(ExportError):
    """A model config disagrees with its ONNX graph or with itself."""


class ParityError(ExportError):
    """The exported model's answers differ from the source framework's beyond tolerance."""


class RepositoryWriteError(ExportError):
    """Writing a repository entry failed."""


class SourceUnavailableError(ExportError):
    """A model source (weights, data set, hub id) is not available here."""


class DarknetFormatError(SourceUnavailableError):
    """A Darknet .cfg/.weights file is malformed or unsupported; the message names file, line, section."""


class YoloContractError(ExportError):
    """An ONNX graph does not have the output layout a YOLO decoding contract describes."""


class YoloParityError(ParityError):
    """Our ONNX model's outputs differ from OpenCV's Darknet importer beyond tolerance."""
