"""The tabular family's export verbs: ``modelserve export tabular`` (train candidates on a table,
keep the best) and ``modelserve export demo`` (the demo set, on data that ships with
scikit-learn). The options check themselves before any data is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelserve.export.tabular_clean import CleaningOptions
from modelserve.export.verb import ExportOptions, ExportReport, ExportVerb, Progress, arg, opt
from modelserve.repository import ModelRepository

# The largest probability difference ONNX may show against scikit-learn: the graph computes what
# scikit-learn does (float64 end to end), so a setting, not a fudge.
PARITY_ATOL = 1e-6


@dataclass(frozen=True, kw_only=True)
class TabularOptions(ExportOptions):
    data: Path = field(metadata=arg("CSV, JSON or Parquet file"))
    target: str = field(metadata=opt("label column", "--target", "-t"))
    model: tuple[str, ...] = field(default=(), metadata=opt("candidates (repeat); default: all four", "-m"))
    drop: tuple[str, ...] = field(default=(), metadata=opt("columns to ignore, e.g. ids (repeat)"))
    grid_search: bool = field(default=False, metadata=opt("grid-search the winner (forest or boosting)"))
    test_size: float = field(default=0.2, metadata=opt("held-out share", min=0.05, max=0.5))
    parity_atol: float = field(
        default=PARITY_ATOL,
        metadata=opt("largest probability difference ONNX may show vs scikit-learn", min=0.0, max=0.1),
    )
    # Cleaning the table (export/tabular_clean.py; docs/export.md#cleaning-the-training-table):
    # each step explicit, reported at export and stored in the contract.
    outliers: str = field(
        default="none",
        metadata=opt("none (default) | iqr: drop rows with a number outside Q1 - k IQR .. Q3 + k IQR"),
    )
    iqr_factor: float = field(default=1.5, metadata=opt("k of --outliers iqr (default 1.5)", min=0.1))
    missing: str = field(
        default="model",
        metadata=opt(
            "missing feature values: model (default: the graph's imputer, as at serving) | mean "
            "(fill numbers with the column mean) | drop (the rows) | error"
        ),
    )
    duplicates: str = field(default="keep", metadata=opt("duplicate rows: keep (default) | drop"))

    def __post_init__(self) -> None:
        super().__post_init__()
        _ = self.cleaning  # the choices are checked here, before any data is read

    @property
    def cleaning(self) -> CleaningOptions:
        return CleaningOptions(
            outliers=self.outliers,
            iqr_factor=self.iqr_factor,
            missing=self.missing,
            duplicates=self.duplicates,
        )


def _tabular(repo: ModelRepository, o: TabularOptions, progress: Progress) -> ExportReport:
    from modelserve.export.tabular_train import CANDIDATES
    from modelserve.families.tabular.exporter import export_tabular

    result, written = export_tabular(
        repo,
        o.name,
        o.data,
        o.target,
        models=o.model or tuple(CANDIDATES),
        drop=o.drop,
        grid_search=o.grid_search,
        test_size=o.test_size,
        version=o.version,
        progress=progress,
        parity_atol=o.parity_atol,
        cleaning=o.cleaning,
    )
    lines = [*(result.cleaning.lines() if result.cleaning else [])]
    lines.append(f"{'model':<20} {'accuracy':>8} {'precision':>9} {'recall':>7} {'F1 (w)':>7}")
    for candidate, m in result.metrics.items():
        mark = " <- best" if candidate == result.best else ""
        lines.append(
            f"{candidate:<20} {m.accuracy:>8.4f} {m.precision:>9.4f} {m.recall:>7.4f} {m.f1:>7.4f}{mark}"
        )
    return ExportReport(written=(written,), lines=tuple(lines))


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    pass


def _demo(repo: ModelRepository, _: DemoOptions, progress: Progress) -> ExportReport:
    from modelserve.families.tabular.demo import export_demo_set

    return ExportReport(written=tuple(m.written for m in export_demo_set(repo)))


TABULAR = ExportVerb(
    name="tabular",
    help="Train candidate classifiers on a table, keep the best (weighted F1), export it.",
    options=TabularOptions,
    run=_tabular,
)
DEMO = ExportVerb(
    name="demo",
    help="Export the demo set (scikit-learn models on data sets that ship with scikit-learn).",
    options=DemoOptions,
    run=_demo,
)
