"""``modelserve models ...``: what a repository holds and a server serves; explicit model control;
the lifecycle verbs (promote, rollback, retire, reconcile) across replicas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from modelserve.cli.common import ControlKey, Proto, Repo, Url, WorkDir, run
from modelserve.client import TritonClient
from modelserve.ops.control import resolve_key
from modelserve.ops.fleet import open_fleet

app = typer.Typer(help="List and control the models of a repository or a running server.")


@app.command("list")
def models_list(
    repository: Repo = Path("model_repository"),
    url: Annotated[str | None, typer.Option("--url", help="also ask a running Triton (host:port)")] = None,
    protocol: Proto = "grpc",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """List models, versions and content ids from the files; with --url, also what the server serves."""
    from modelserve.ops.inventory import inventory

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


@app.command("load")
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


@app.command("unload")
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


@app.command("promote")
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
    from modelserve.ops.lifecycle import promote

    _lifecycle(
        "promote",
        url,
        control_key,
        work_dir,
        lambda c: promote(c, repository, name, version, keep_previous=keep_previous, grace_s=grace),
    )


@app.command("rollback")
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
    from modelserve.ops.lifecycle import rollback

    _lifecycle(
        "rollback",
        url,
        control_key,
        work_dir,
        lambda c: rollback(c, repository, name, version, keep_previous=keep_previous, grace_s=grace),
    )


@app.command("retire")
def models_retire(
    name: str,
    version: int,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Unload a version that is not served and keep it from being promoted again."""
    from modelserve.ops.lifecycle import retire

    _lifecycle("retire", url, control_key, work_dir, lambda c: retire(c, repository, name, version))


@app.command("reconcile")
def models_reconcile(
    name: Annotated[str | None, typer.Argument(help="default: every model with a served version")] = None,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
) -> None:
    """Bring every replica to the served version set (after a replica joined late, restarted or
    drifted); each newly loaded version is verified."""
    from modelserve.ops.lifecycle import reconcile, reconcile_all

    _lifecycle(
        "reconcile",
        url,
        control_key,
        work_dir,
        lambda c: reconcile(c, repository, name) if name else reconcile_all(c, repository),
    )
