"""A benchmark run end to end: run a scenario, then write the table, CSVs, JSON and plots into the
run's directory and append the run to the history."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelserve.benchmarks import docs_tables, history
from modelserve.benchmarks.measure import Sweep
from modelserve.benchmarks.ratios import format_ratios, ratios
from modelserve.benchmarks.report import Row, table, write_outputs
from modelserve.benchmarks.stats import machine_info

SCENARIOS = ("tabular", "vision", "routes")
DEFAULT_RESULTS = Path(".modelserve/bench")  # outside the tracked tree: a run leaves git clean
RECORDED = Path("benchmarks/results")  # the committed history (``modelserve bench --record``)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    scenario: str = "tabular"
    sweep: Sweep = field(default_factory=Sweep)
    models: tuple[str, ...] = ()  # scenario default when empty
    baselines: tuple[str, ...] = ("flask", "onnxruntime", "mlserver")
    batches: tuple[int, ...] = (1,)
    results: Path = DEFAULT_RESULTS
    plots: bool = True
    perf_analyzer: bool = True
    api_workers: int = 1  # API processes behind the "api" targets (tabular scenario)


def _scenario(options: RunOptions, progress: Callable[[str], None]) -> tuple[list[Row], dict[str, Any]]:
    """Rows exist only once every round has run (see ``measure``): progress says the round."""
    if options.scenario == "tabular":
        from modelserve.benchmarks import tabular_scenario

        return tabular_scenario.run(
            options.sweep,
            models=options.models or ("rf", "lr"),
            baselines=options.baselines,
            batches=options.batches,
            progress=progress,
            use_perf_analyzer=options.perf_analyzer,
            api_workers=options.api_workers,
        )
    if options.scenario == "vision":
        from modelserve.benchmarks import vision_scenario

        return vision_scenario.run(options.sweep, batches=options.batches, progress=progress), {}
    if options.scenario == "routes":
        from modelserve.benchmarks import routes_scenario

        return routes_scenario.run(options.sweep, progress=progress), {}
    raise ValueError(f"unknown scenario {options.scenario!r}; choose from {', '.join(SCENARIOS)}")


def record(results: Path, document: dict[str, Any], rows: list[Row]) -> tuple[Path, list[Path]]:
    """A run's folder (table CSVs, run.json) and its line in the history; returns the folder and
    the files written. In the repository's own results, docs/benchmark-results.md follows."""
    run_dir = results / "runs" / document["run_id"]
    paths = write_outputs(run_dir, rows, document)
    history.append(results / "history.jsonl", document)
    if results == RECORDED and docs_tables.DOC.parent.is_dir():
        docs_tables.write()
    return run_dir, paths


def run(options: RunOptions, *, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure, write, plot, record; returns the run document."""
    started = dt.datetime.now(dt.UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{options.scenario}"
    out(f"run {run_id}: scenario {options.scenario}, points {options.sweep}")
    rows, extras = _scenario(options, out)
    dicts = [r.as_dict() for r in rows]
    found = ratios(dicts)
    document: dict[str, Any] = {
        "run_id": run_id,
        "scenario": options.scenario,
        "machine": machine_info(),
        "command": " ".join(sys.argv),
        "settings": {
            **asdict(options.sweep),
            "models": list(options.models),
            "baselines": list(options.baselines),
            "batches": list(options.batches),
        },
        "notes": [
            "client, servers and baselines share this machine's cores: absolute numbers include the "
            "load generator's own CPU use",
            "spread: (max - min) / median of the trials' throughputs; the table's ± is half of it",
        ],
        "rows": dicts,
        "ratios": [r.as_dict() for r in found],
        **extras,
    }
    run_dir, paths = record(options.results, document, rows)
    if options.plots:
        from modelserve.benchmarks.plots import plot_run

        paths += plot_run(document, run_dir)
    out("")
    out(table(rows))
    if found:
        out("")
        out(format_ratios(found))
    for what, why in extras.get("baselines_skipped", {}).items():
        out(f"baseline {what} skipped: {why.splitlines()[-1] if why else ''}")
    pa = extras.get("perf_analyzer")
    if isinstance(pa, dict) and "unavailable" in pa:
        out(f"\n{pa['unavailable']}: measured with this suite's own load generator only")
    out(f"\nwrote {run_dir}: " + ", ".join(p.name for p in paths))
    path = options.results / "history.jsonl"
    runs = len(history.read(path))
    compare = f"modelserve bench compare latest~1 latest{_flag(options.results)}"
    hint = "" if runs < 2 else f" (compare with the run before: {compare})"
    out(f"appended to {path}: {runs} run{'s' if runs != 1 else ''}{hint}")
    return document


def _flag(results: Path) -> str:
    return "" if results == DEFAULT_RESULTS else f" --results {results}"


def load_document(path: Path) -> dict[str, Any]:
    path = path / "run.json" if path.is_dir() else path
    document: dict[str, Any] = json.loads(path.read_text())
    return document
