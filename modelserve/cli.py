"""``modelserve``: each verb parses, calls one library function, prints. Errors exit 1 with one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from modelserve import cli_serve
from modelserve.cli_common import ControlKey, Proto, Repo, Url, WorkDir, run
from modelserve.client import TritonClient
from modelserve.control import resolve_key
from modelserve.export.cli import app as export_app
from modelserve.fleet import open_fleet
from modelserve.monitor_cli import app as monitor_app
from modelserve.pipeline_cli import app as pipeline_app

app = typer.Typer(
    help="Serve ONNX models with NVIDIA Triton: export, serve, query.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
models_app = typer.Typer(help="List and control the models of a repository or a running server.")
app.add_typer(models_app, name="models")
app.add_typer(export_app, name="export")
try:  # the API image ships without the benchmark suite
    from modelserve.benchmarks.cli import app as bench_app
    from modelserve.benchmarks.tune_cli import tune as tune_verb

    app.add_typer(bench_app, name="bench")
    app.command("tune")(tune_verb)
except ImportError:  # pragma: no cover - exercised in the image
    pass
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(monitor_app, name="monitor")
for verb in (cli_serve.demo, cli_serve.serve, cli_serve.up, cli_serve.api):
    app.command()(verb)


@models_app.command("list")
def models_list(
    repository: Repo = Path("model_repository"),
    url: Annotated[str | None, typer.Option("--url", help="also ask a running Triton (host:port)")] = None,
    protocol: Proto = "grpc",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """List models, versions and content ids from the files; with --url, also what the server serves."""
    from modelserve.inventory import inventory

    key = resolve_key(control_key, work_dir)
    rows = run(lambda: inventory(repository, url=url, protocol=protocol, control_key=key))
    line = "{:<22} {:>3}  {:<30} {:<25} {:<10} {:<12} {}"
    typer.echo(line.format("model", "ver", "id", "created", "weights", "state", "note"))
    for r in rows:
        typer.echo(line.format(r.name, r.version, r.model_id, r.created, r.weights, r.state, r.note))


def _control(url: str, protocol: str, action: str, name: str, key: str | None, work_dir: Path) -> None:
    """On every replica the URL names: model control is per server."""
    with open_fleet(url, protocol=protocol, control_key=resolve_key(key, work_dir)) as fleet:
        for c in fleet:
            if action == "load":
                c.load(name)
                continue
            # Triton answers an unload of a name it never heard of with success; say so instead.
            if name not in {entry.name for entry in c.repository_index()}:
                raise ValueError(f"no model '{name}' in the repository of the server at {c.url}")
            c.unload(name)


@models_app.command("load")
def models_load(
    name: str,
    url: Url = "127.0.0.1:8001",
    protocol: Proto = "grpc",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Load (or reload) a model on a running server (explicit model control)."""
    run(lambda: _control(url, protocol, "load", name, control_key, work_dir))
    typer.echo(f"loaded {name}")


@models_app.command("unload")
def models_unload(
    name: str,
    url: Url = "127.0.0.1:8001",
    protocol: Proto = "grpc",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Unload a model from a running server."""
    run(lambda: _control(url, protocol, "unload", name, control_key, work_dir))
    typer.echo(f"unloaded {name}")


Grace = Annotated[
    float,
    typer.Option(help="seconds the old version keeps serving after the switch (≥ the API's version TTL)"),
]
Keep = Annotated[bool, typer.Option(help="keep the replaced version loaded (default: unload it)")]


def _lifecycle(
    action: str, url: str, key: str | None, work_dir: Path, go: Callable[[list[TritonClient]], Any]
) -> None:
    def call() -> Any:
        with open_fleet(url, control_key=resolve_key(key, work_dir)) as fleet:
            return go(fleet)

    result = run(call)
    outcomes = result if isinstance(result, list) else [result]
    if not outcomes:
        typer.echo(f"{action}: no model has a served version on record; nothing to do")
    for out in outcomes:
        for address, versions in out.replicas.items():
            loaded = ", ".join(f"v{v}" for v in versions)
            where = f" on {address}" if len(out.replicas) > 1 else ""
            typer.echo(f"{action} {out.name} v{out.version}: done{where}; loaded now: {loaded}")


@models_app.command("promote")
def models_promote(
    name: str,
    version: int,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    keep_previous: Keep = False,
    grace: Grace = 2.0,
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Load VERSION beside the served one, verify it (warm-up, parity vs ORT), switch, unload the old."""
    from modelserve.lifecycle import promote

    _lifecycle(
        "promote",
        url,
        control_key,
        work_dir,
        lambda c: promote(c, repository, name, version, keep_previous=keep_previous, grace_s=grace),
    )


@models_app.command("rollback")
def models_rollback(
    name: str,
    version: Annotated[int | None, typer.Argument(help="default: the version served before")] = None,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    keep_previous: Keep = False,
    grace: Grace = 2.0,
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Serve an earlier version again, with the same checks as promote."""
    from modelserve.lifecycle import rollback

    _lifecycle(
        "rollback",
        url,
        control_key,
        work_dir,
        lambda c: rollback(c, repository, name, version, keep_previous=keep_previous, grace_s=grace),
    )


@models_app.command("retire")
def models_retire(
    name: str,
    version: int,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Unload a version that is not served and keep it from being promoted again."""
    from modelserve.lifecycle import retire

    _lifecycle("retire", url, control_key, work_dir, lambda c: retire(c, repository, name, version))


@models_app.command("reconcile")
def models_reconcile(
    name: Annotated[str | None, typer.Argument(help="default: every model with a served version")] = None,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Bring every replica to the served version set (after a replica joined late, restarted or
    drifted); each newly loaded version is verified."""
    from modelserve.lifecycle import reconcile, reconcile_all

    _lifecycle(
        "reconcile",
        url,
        control_key,
        work_dir,
        lambda c: reconcile(c, repository, name) if name else reconcile_all(c, repository),
    )


def parse_inputs(data: str, dtypes: dict[str, str]) -> dict[str, np.ndarray]:
    """``{"name": nested list}`` -> arrays typed from the model's metadata."""
    from tritonclient.utils import triton_to_np_dtype

    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--data is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not raw:
        raise ValueError(
            '--data must be a JSON object of input name -> nested list, e.g. {"features": [[1, 2]]}'
        )
    unknown = sorted(set(raw) - set(dtypes))
    if unknown:
        raise ValueError(f"unknown inputs {unknown}; the model takes {sorted(dtypes)}")
    arrays = {}
    for name, value in raw.items():
        try:
            arrays[name] = np.asarray(value, dtype=triton_to_np_dtype(dtypes[name]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"input '{name}' is not a {dtypes[name]} array: {exc}") from exc
    return arrays


@app.command()
def infer(
    model: str,
    data: Annotated[str, typer.Option("--data", "-d", help='JSON: {"input": [[...]], ...}')],
    url: Url = "127.0.0.1:8001",
    protocol: Proto = "grpc",
    version: Annotated[str, typer.Option(help="model version (default: per version policy)")] = "",
) -> None:
    """Send one request to a running server and print the outputs as JSON."""

    def go() -> dict[str, Any]:
        with TritonClient(url, protocol=protocol, timeout_s=30) as client:
            meta = client.metadata(model, version)
            inputs = parse_inputs(data, {t.name: t.datatype for t in meta.inputs})
            return {k: v.tolist() for k, v in client.infer(model, inputs, version=version).items()}

    typer.echo(json.dumps(run(go)))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
