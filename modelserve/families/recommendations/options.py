"""The recommendations family's export verb: ``modelserve export recommendations`` (fit the engine
on interaction and item tables, export its scoring graph)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelserve.export.verb import NAME, VERSION, ExportReport, ExportVerb, Progress, opt
from modelserve.repository import ModelRepository, check_model_name


@dataclass(frozen=True, kw_only=True)
class RecommendationsOptions:
    interactions: Path = field(metadata=opt("user_id, item_id, rating (CSV, JSON, Parquet)"))
    items: Path = field(metadata=opt("item_id, description"))
    name: str = field(default="recommendations", metadata=NAME)
    version: int | None = field(default=None, metadata=VERSION)

    def __post_init__(self) -> None:
        check_model_name(self.name)


def _recommendations(repo: ModelRepository, o: RecommendationsOptions, progress: Progress) -> ExportReport:
    from modelserve.export.tabular_data import load_table
    from modelserve.families.recommendations.exporter import export_recommendations

    written = export_recommendations(
        repo,
        o.name,
        load_table(o.interactions),
        load_table(o.items),
        data=(o.interactions, o.items),
        version=o.version,
    )
    return ExportReport(written=(written,))


RECOMMENDATIONS = ExportVerb(
    name="recommendations",
    help="Fit the recommendation engine (collaborative + TF-IDF content) and export its scoring graph.",
    options=RecommendationsOptions,
    run=_recommendations,
)
