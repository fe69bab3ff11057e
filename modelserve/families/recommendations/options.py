"""The recommendations family's export verb: ``modelserve export recommendations`` (fit the engine
on interaction and item tables, export its scoring graph)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelserve.export.verb import NAME, ExportOptions, ExportReport, ExportVerb, Progress, opt
from modelserve.repository import ModelRepository


@dataclass(frozen=True, kw_only=True)
class RecommendationsOptions(ExportOptions):
    interactions: Path = field(metadata=opt("user_id, item_id, rating (CSV, JSON, Parquet)"))
    items: Path = field(metadata=opt("item_id, description"))
    name: str = field(default="recommendations", metadata=NAME)


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
