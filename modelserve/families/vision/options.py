"""The vision family's export verb: ``modelserve export vision`` (Keras ResNet50 / VGG16 through
tf2onnx, checked against Keras)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelserve.export.verb import ExportReport, ExportVerb, Progress, WeightsOptions, arg, opt
from modelserve.repository import ModelRepository


@dataclass(frozen=True, kw_only=True)
class VisionOptions(WeightsOptions):
    arch: str = field(metadata=arg("resnet50 | vgg16 | tiny (a small CNN for tests)"))
    variant: str = field(
        default="classifier", metadata=opt("classifier (ImageNet top) or features (pooled embedding)")
    )
    weights: str = field(default="random", metadata=opt("random | imagenet | PATH.weights.h5"))
    fp16: bool = field(default=False, metadata=opt("also write <name>_fp16 (fp16 compute, fp32 I/O)"))


def _vision(repo: ModelRepository, o: VisionOptions, progress: Progress) -> ExportReport:
    from modelserve.families.vision.exporter import export_keras_vision

    written = export_keras_vision(
        repo,
        o.name,
        o.arch,
        variant=o.variant,
        weights=o.weights,
        fp16=o.fp16,
        random_weights=o.random_weights,
        version=o.version,
        progress=progress,
    )
    return ExportReport(written=tuple(written))


VISION = ExportVerb(
    name="vision",
    help="Export Keras ResNet50 / VGG16 (classifier or feature extractor) via tf2onnx, checked "
    "against Keras.",
    options=VisionOptions,
    run=_vision,
)
