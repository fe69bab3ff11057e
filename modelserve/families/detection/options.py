"""The detection family's export verbs: ``modelserve export darknet`` (YOLOv3 cfg + weights,
converted and checked against OpenCV's Darknet importer) and ``modelserve export yolov8`` (an
already-exported YOLOv8-style ONNX, with its decoding contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelserve.export.verb import ExportReport, ExportVerb, Progress, WeightsOptions, arg, opt
from modelserve.repository import ModelRepository

NAMES = opt("class names, one per line (default: COCO 80)")


@dataclass(frozen=True, kw_only=True)
class DarknetOptions(WeightsOptions):
    cfg: Path = field(metadata=arg("Darknet .cfg (YOLOv3 / YOLOv3-tiny layout)"))
    weights: Path = field(metadata=arg("Darknet .weights"))
    names: Path | None = field(default=None, metadata=NAMES)


@dataclass(frozen=True, kw_only=True)
class Yolov8Options(WeightsOptions):
    onnx_file: Path = field(metadata=arg("an exported YOLOv8-style ONNX ([N, 4+C, boxes] output)"))
    names: Path | None = field(default=None, metadata=NAMES)


def _darknet(repo: ModelRepository, o: DarknetOptions, progress: Progress) -> ExportReport:
    from modelserve.families.detection.exporter import export_darknet

    written = export_darknet(
        repo,
        o.name,
        o.cfg,
        o.weights,
        names=o.names,
        random_weights=o.random_weights,
        version=o.version,
        progress=progress,
    )
    return ExportReport(written=(written,))


def _yolov8(repo: ModelRepository, o: Yolov8Options, progress: Progress) -> ExportReport:
    from modelserve.families.detection.exporter import export_yolov8

    written = export_yolov8(
        repo, o.name, o.onnx_file, names=o.names, random_weights=o.random_weights, version=o.version
    )
    return ExportReport(written=(written,))


DARKNET = ExportVerb(
    name="darknet",
    help="Convert Darknet cfg+weights to ONNX, check it against OpenCV's Darknet importer, export it.",
    options=DarknetOptions,
    run=_darknet,
)
YOLOV8 = ExportVerb(
    name="yolov8",
    help="Add an already-exported YOLOv8-style ONNX with its decoding contract.",
    options=Yolov8Options,
    run=_yolov8,
)
