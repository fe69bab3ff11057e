"""``modelserve monitor``: the retraining job degradation and drift trigger, runnable by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from modelserve.cli.common import ControlKey, Proto, Repo, Url, WorkDir, run
from modelserve.ops.control import resolve_key

app = typer.Typer(help="Model monitoring jobs.")


@app.command()
def retrain(
    name: str,
    data: Annotated[
        Path | None, typer.Option(help="training table; default: the served version's source")
    ] = None,
    target: Annotated[str | None, typer.Option(help="label column; default: the served version's")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="candidate (repeat)")] = None,
    drop: Annotated[list[str] | None, typer.Option("--drop", help="columns to ignore (repeat)")] = None,
    min_f1: Annotated[float, typer.Option(min=0.0, max=1.0, help="held-out weighted F1 gate")] = 0.7,
    max_drop: Annotated[float, typer.Option(min=0.0, help="allowed F1 drop below the served version")] = 0.01,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    protocol: Proto = "grpc",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
    as_json: Annotated[bool, typer.Option("--json", help="last line: the outcome as JSON")] = False,
) -> None:
    """Train, export a new version, gate it on metrics, promote it; exit 1 (with why) otherwise."""
    from modelserve.ops.retrain import retrain as job

    done = run(  # a refused promotion (LifecycleError) is one line too
        lambda: job(
            repository,
            name,
            url=url,
            protocol=protocol,
            control_key=resolve_key(control_key, work_dir),
            data=data,
            target=target,
            models=model or (),
            drop=drop or (),
            min_f1=min_f1,
            max_drop=max_drop,
            progress=typer.echo,
        )
    )
    was = ", ".join(f"v{v}" for v in done.previous) or "nothing"
    typer.echo(f"{name} v{done.version} serves (was {was}); weighted F1 {done.f1:.4f}")
    if as_json:
        typer.echo(json.dumps(done.as_dict()))
