"""``modelserve pipeline``: the CI/CD gates the workflow calls (validate data, evaluate a version)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelserve.cli.common import Repo, fail, run

app = typer.Typer(help="CI/CD gates: validate training data, evaluate an exported version.")


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="CSV, JSON or Parquet file")],
    target: Annotated[str, typer.Option("--target", "-t", help="label column")],
    drop: Annotated[list[str] | None, typer.Option("--drop", help="columns to ignore (repeat)")] = None,
    min_rows: Annotated[int, typer.Option(min=2)] = 50,
) -> None:
    """Refuse training data that cannot be learnt or evaluated from; print what it holds."""
    from modelserve.ops.pipeline import validate_data

    report = run(lambda: validate_data(data, target, drop=drop or (), min_rows=min_rows))
    typer.echo(f"{data}: {report.rows} rows, {report.features} features, classes {report.classes}")
    for column, share in sorted(report.missing_share.items()):
        typer.echo(f"  {column}: {100 * share:.1f}% missing (imputed in the graph)")


@app.command()
def evaluate(
    name: str,
    version: Annotated[str, typer.Argument(help="a version number or latest")] = "latest",
    min_f1: Annotated[float, typer.Option(min=0.0, max=1.0, help="minimum held-out weighted F1")] = 0.7,
    max_drop: Annotated[float, typer.Option(min=0.0, help="allowed F1 drop below the served version")] = 0.01,
    repository: Repo = Path("model_repository"),
) -> None:
    """Gate a version on its held-out metrics; exit 1 (with why) when it must not be promoted."""
    from modelserve.ops.pipeline import evaluate as judge
    from modelserve.ops.pipeline import resolve_version

    v = run(lambda: resolve_version(repository, name, version))
    verdict = run(lambda: judge(repository, name, v, min_f1=min_f1, max_drop=max_drop))
    against = f" (v{verdict.baseline}: {verdict.baseline_f1:.4f})" if verdict.baseline_f1 is not None else ""
    if not verdict.passed:
        fail(f"{name} v{v} fails the gate: " + "; ".join(verdict.reasons))
    typer.echo(f"{name} v{v}: weighted F1 {verdict.f1:.4f}{against}: passes")
