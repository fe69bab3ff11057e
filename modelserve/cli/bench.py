"""``modelserve bench``: run a scenario (default: the tabular one), compare runs, list and re-plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelserve.cli.common import run, setup_logging

# Kept here rather than imported from the suite: importing the suite (load generator, clients,
# plots) at start cost the whole CLI 0.4 s. A unit test checks both agree.
DEFAULT_RESULTS = Path(".modelserve/bench")  # outside the tracked tree: a run leaves git clean
RECORDED = Path("benchmarks/results")  # the committed history, written with --record
SCENARIO_NAMES = ("tabular", "vision", "routes")

app = typer.Typer(
    help="Benchmarks: latency and throughput with baselines in the same run, history, comparisons.",
    invoke_without_command=True,
)


Results = Annotated[
    Path,
    typer.Option("--results", help="results folder (runs/, history.jsonl); benchmarks/results: committed"),
]


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ValueError(f"{what} must be comma-separated integers, got {text!r}") from exc
    if not values or min(values) < 1:
        raise ValueError(f"{what} must be integers >= 1, got {text!r}")
    return values


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ValueError(f"{what} must be comma-separated numbers, got {text!r}") from exc
    if values and min(values) <= 0:
        raise ValueError(f"{what} must be > 0, got {text!r}")
    return values


def _words(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


@app.callback()
def bench(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Option(help=f"one of: {', '.join(SCENARIO_NAMES)}")] = "tabular",
    concurrency: Annotated[str, typer.Option(help="closed-loop points, e.g. 1,4,16")] = "1,4,16",
    rate: Annotated[str, typer.Option(help="open-loop points in requests/s, e.g. 100,400")] = "",
    arrival: Annotated[str, typer.Option(help="open-loop arrivals: poisson or constant")] = "poisson",
    duration: Annotated[float, typer.Option(help="seconds per trial")] = 1.5,
    requests: Annotated[int, typer.Option(help="requests per trial instead of --duration (0: off)")] = 0,
    trials: Annotated[int, typer.Option(help="trials per point; their spread is the noise band")] = 3,
    warmup: Annotated[float, typer.Option(help="warm-up seconds per point")] = 0.5,
    batch: Annotated[str, typer.Option(help="items (rows) per request; a sweep: 1,8,32")] = "1",
    model: Annotated[str, typer.Option(help="tabular models: rf,lr")] = "rf,lr",
    baseline: Annotated[
        str,
        typer.Option(help="flask, onnxruntime, mlserver (own venv, created on first use), api-unmonitored"),
    ] = "flask,onnxruntime,mlserver",
    results: Results = DEFAULT_RESULTS,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help=f"write into {RECORDED} (the committed history) and regenerate docs/benchmark-results.md",
        ),
    ] = False,
    plots: Annotated[bool, typer.Option(help="write PNG plots")] = True,
    perf_analyzer: Annotated[bool, typer.Option(help="also drive perf_analyzer when on PATH")] = True,
    api_workers: Annotated[int, typer.Option(min=1, max=64, help="API processes (tabular scenario)")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a scenario end to end (no subcommand): table, CSV, JSON, plots, history."""
    if ctx.invoked_subcommand is not None:
        return
    run(
        lambda: _bench(
            scenario,
            concurrency,
            rate,
            arrival,
            duration,
            requests,
            trials,
            warmup,
            batch,
            model,
            baseline,
            RECORDED if record else results,
            plots,
            perf_analyzer,
            api_workers,
            verbose,
        )
    )


def _bench(
    scenario: str,
    concurrency: str,
    rate: str,
    arrival: str,
    duration: float,
    requests: int,
    trials: int,
    warmup: float,
    batch: str,
    model: str,
    baseline: str,
    results: Path,
    plots: bool,
    perf_analyzer: bool,
    api_workers: int,
    verbose: bool,
) -> None:
    from modelserve.benchmarks.measure import Sweep
    from modelserve.benchmarks.suite import RunOptions
    from modelserve.benchmarks.suite import run as run_suite

    setup_logging(verbose)
    if arrival not in ("poisson", "constant"):
        raise ValueError(f"--arrival must be poisson or constant, got {arrival!r}")
    if duration <= 0 or trials < 1 or warmup < 0 or requests < 0:
        raise ValueError("--duration > 0, --trials >= 1, --warmup >= 0, --requests >= 0")
    options = RunOptions(
        scenario=scenario,
        sweep=Sweep(
            concurrency=_ints(concurrency, "--concurrency"),
            rates=_floats(rate, "--rate"),
            arrival=arrival,
            duration_s=duration,
            requests=requests or None,
            trials=trials,
            warmup_s=warmup,
        ),
        models=_words(model),
        baselines=_words(baseline),
        batches=_ints(batch, "--batch"),
        results=results,
        plots=plots,
        perf_analyzer=perf_analyzer,
        api_workers=api_workers,
    )
    run_suite(options, out=typer.echo)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="run: id (prefix), run.json or its folder, latest~N")],
    b: Annotated[str, typer.Argument(help="the run to judge against A")] = "latest",
    results: Results = DEFAULT_RESULTS,
    across_machines: Annotated[
        bool, typer.Option("--across-machines", help="compare runs from different CPUs/GPUs anyway")
    ] = False,
) -> None:
    """Differences B vs A per target and load, judged against the trials' measured spread."""

    def go() -> None:
        from modelserve.benchmarks import history

        path = results / "history.jsonl"
        run_a, run_b = history.resolve(a, path), history.resolve(b, path)
        typer.echo(f"A: {history.describe(run_a)}\nB: {history.describe(run_b)}")
        difference = history.machine_difference(run_a, run_b)
        if difference and not across_machines:
            raise ValueError(
                f"A and B ran on different machines ({difference}): their numbers do not compare; "
                "pass --across-machines to see the table anyway"
            )
        if difference:
            typer.echo(f"WARNING: different machines ({difference}): differences include the machine")
        same_commit = run_a["machine"].get("commit") == run_b["machine"].get("commit")
        # An A/A comparison must not calibrate itself: floors come from the other same-commit pairs.
        others = [
            r
            for r in history.read(path)
            if not same_commit or r["run_id"] not in (run_a["run_id"], run_b["run_id"])
        ]
        floors, pairs = history.noise_floor(others)
        changes, unmatched = history.compare(run_a, run_b, floors)
        if not changes:
            raise ValueError("the two runs share no (target, load) rows to compare")
        typer.echo(history.format_changes(changes, unmatched))
        typer.echo(
            f"noise: each run's trial spread, and the largest change between {pairs} same-commit run "
            f"pair(s) in {path}"
            if pairs
            else f"noise: each run's trial spread only (no same-commit "
            f"run pairs in {path}: run the same commit twice to measure the run-to-run drift)"
        )

    run(go)


@app.command("history")
def list_history(results: Results = DEFAULT_RESULTS) -> None:
    """The runs recorded in the history, oldest first."""
    from modelserve.benchmarks import history

    def go() -> None:
        path = results / "history.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"no benchmark history at {path}: run `modelserve bench` first")
        for entry in history.read(path):
            machine = entry["machine"]
            typer.echo(
                f"{entry['run_id']:<32} {machine.get('commit', '?'):<9} {machine.get('cpu', '')[:40]:<40} "
                f"{len(entry['rows'])} rows"
            )

    run(go)


@app.command()
def plot(run_dir: Annotated[Path, typer.Argument(help="a run's folder (holding run.json)")]) -> None:
    """Draw a saved run's plots again into its folder."""

    def go() -> None:
        from modelserve.benchmarks.plots import plot_run
        from modelserve.benchmarks.suite import load_document

        for path in plot_run(load_document(run_dir), run_dir if run_dir.is_dir() else run_dir.parent):
            typer.echo(str(path))

    run(go)
