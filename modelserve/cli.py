"""``modelserve``: each verb parses, calls one library function, prints. Errors exit 1 with one line."""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import numpy as np
import typer

from benchmarks.cli import app as bench_app
from client import ClientError, TritonClient
from export.cli import app as export_app
from export.errors import ExportError
from modelserve.monitor_cli import app as monitor_app
from modelserve.pipeline_cli import app as pipeline_app
from serve.errors import ServeError
from serve.server import EmbeddedTriton
from serve.settings import ServerSettings

app = typer.Typer(help="Serve ONNX models with NVIDIA Triton: export, serve, query.", no_args_is_help=True)
models_app = typer.Typer(help="List and control the models of a repository or a running server.")
app.add_typer(models_app, name="models")
app.add_typer(export_app, name="export")
app.add_typer(bench_app, name="bench")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(monitor_app, name="monitor")

T = TypeVar("T")
Repo = Annotated[
    Path, typer.Option("--repository", "-r", envvar="MODELSERVE_REPOSITORY", help="model repository")
]
HttpPort = Annotated[int, typer.Option(envvar="MODELSERVE_HTTP_PORT", help="Triton HTTP port (0: any free)")]
GrpcPort = Annotated[int, typer.Option(envvar="MODELSERVE_GRPC_PORT", help="Triton gRPC port (0: any free)")]
MetricsPort = Annotated[int, typer.Option(envvar="MODELSERVE_METRICS_PORT", help="Triton metrics port")]
WorkDir = Annotated[Path, typer.Option(envvar="MODELSERVE_WORK_DIR", help="backend dir and server logs")]
Url = Annotated[str, typer.Option("--url", envvar="MODELSERVE_TRITON_URL", help="Triton host:port")]
Proto = Annotated[str, typer.Option("--protocol", help="grpc or http (match the port)")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="log progress")]
Control = Annotated[
    str,
    typer.Option(
        "--model-control", envvar="MODELSERVE_MODEL_CONTROL", help="explicit (load/unload on request) or poll"
    ),
]

CacheConfig = Annotated[
    list[str] | None,
    typer.Option(
        "--cache-config",
        envvar="MODELSERVE_CACHE_CONFIG",
        help="Triton response cache, e.g. local,size=1048576 (models opt in with response_cache "
        "{ enable: true }); repeat for more keys",
    ),
]

HANDLED = (ClientError, ServeError, ExportError, ValueError, FileNotFoundError)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except HANDLED as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def _run(fn: Callable[[], T]) -> T:
    with _one_line_errors():
        return fn()


def _server_settings(
    repository: Path,
    http: int,
    grpc: int,
    metrics: int,
    work_dir: Path,
    control: str = "explicit",
    cache_config: list[str] | None = None,
) -> ServerSettings:
    return _run(
        lambda: ServerSettings(
            repository=repository,
            http_port=http,
            grpc_port=grpc,
            metrics_port=metrics,
            work_dir=work_dir,
            model_control=control,  # type: ignore[arg-type]  # validated by ServerSettings
            cache_config=tuple(cache_config or ()),
        )
    )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def demo(
    repository: Repo = Path("model_repository"),
    http_port: HttpPort = 8000,
    grpc_port: GrpcPort = 8001,
    metrics_port: MetricsPort = 8002,
    work_dir: WorkDir = Path(".modelserve"),
    verbose: Verbose = False,
) -> None:
    """Export the demo models, start the embedded Triton, answer requests over gRPC and HTTP, stop."""
    from modelserve.demo import run_demo

    _setup_logging(verbose)
    settings = _server_settings(repository, http_port, grpc_port, metrics_port, work_dir)
    typer.echo(f"exporting demo models into {repository}/ and starting the embedded Triton ...")
    models, endpoints, answers = _run(lambda: run_demo(settings))
    for model in models:
        typer.echo(f"  exported {model.name} v{model.written.version} ({model.written.model_path})")
    typer.echo(f"Triton served on HTTP {endpoints.http_url}, gRPC {endpoints.grpc_url}:")
    typer.echo(f"  {'model':<18} {'proto':<5} {'first features':<30} {'predicted':<10} confidence")
    for a in answers:
        typer.echo(f"  {a.model:<18} {a.protocol:<5} {a.row!s:<30} {a.predicted:<10} {a.confidence:.3f}")
    typer.echo("Server stopped. `modelserve up` keeps it running with the API; see README for curl examples.")


@app.command()
def serve(
    repository: Repo = Path("model_repository"),
    http_port: HttpPort = 8000,
    grpc_port: GrpcPort = 8001,
    metrics_port: MetricsPort = 8002,
    model_control: Control = "explicit",
    cache_config: CacheConfig = None,
    work_dir: WorkDir = Path(".modelserve"),
    verbose: Verbose = False,
) -> None:
    """Run the embedded Triton on a repository until Ctrl-C / SIGTERM."""
    _setup_logging(verbose)
    settings = _server_settings(
        repository, http_port, grpc_port, metrics_port, work_dir, model_control, cache_config
    )
    server = EmbeddedTriton(settings)
    with _sigterm_as_interrupt():
        try:
            e = _run(server.start)
            typer.echo(f"Triton ready: HTTP {e.http_url}  gRPC {e.grpc_url}  metrics {e.metrics_url}")
            typer.echo(f"log: {server.log_path}  (Ctrl-C stops)")
            code = server.wait()
            typer.echo(f"tritonserver exited with code {code}; log: {server.log_path}", err=True)
            raise typer.Exit(1)
        except KeyboardInterrupt:
            typer.echo("stopping ...")
        finally:
            server.stop()


@app.command()
def up(
    repository: Repo = Path("model_repository"),
    http_port: HttpPort = 8000,
    grpc_port: GrpcPort = 8001,
    metrics_port: MetricsPort = 8002,
    api_port: Annotated[int, typer.Option(envvar="MODELSERVE_API_PORT", help="API port")] = 8080,
    api_host: Annotated[
        str, typer.Option(envvar="MODELSERVE_API_HOST", help="API bind address")
    ] = "127.0.0.1",
    model_control: Control = "explicit",
    cache_config: CacheConfig = None,
    work_dir: WorkDir = Path(".modelserve"),
    verbose: Verbose = False,
) -> None:
    """Run the embedded Triton and the FastAPI front beside it until Ctrl-C / SIGTERM."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    _setup_logging(verbose)
    settings = _server_settings(
        repository, http_port, grpc_port, metrics_port, work_dir, model_control, cache_config
    )
    server = EmbeddedTriton(settings)
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again; with Python's
    # default handler that ended the process before `finally`, leaving tritonserver running.
    with _sigterm_as_interrupt():
        try:
            e = _run(server.start)
            typer.echo(f"Triton ready: HTTP {e.http_url}  gRPC {e.grpc_url}  metrics {e.metrics_url}")
            typer.echo(f"API on http://{api_host}:{api_port} (docs at /docs); Ctrl-C stops both")
            api_settings = ApiSettings(triton_url=e.grpc_url, triton_protocol="grpc", repository=repository)
            if "MODELSERVE_MONITORING_URL" not in os.environ:  # the store goes beside the server's logs
                store = f"sqlite:///{work_dir}/monitoring.sqlite"
                api_settings = api_settings.model_copy(update={"monitoring_url": store})
            if api_settings.monitoring:
                typer.echo(
                    f"Monitoring into {api_settings.monitoring_url}; live: ws://{api_host}:{api_port}/ws/metrics"
                )
            api = create_app(api_settings)
            uvicorn.run(api, host=api_host, port=api_port, log_level="info" if verbose else "warning")
        except KeyboardInterrupt:
            typer.echo("stopping ...")
        finally:
            server.stop()


@models_app.command("list")
def models_list(
    repository: Repo = Path("model_repository"),
    url: Annotated[str | None, typer.Option("--url", help="also ask a running Triton (host:port)")] = None,
    protocol: Proto = "grpc",
) -> None:
    """List models, versions and content ids from the files; with --url, also what the server serves."""
    from modelserve.inventory import inventory

    rows = _run(lambda: inventory(repository, url=url, protocol=protocol))
    typer.echo(f"{'model':<22} {'ver':>3}  {'id':<30} {'created':<25} {'state':<12} note")
    for r in rows:
        typer.echo(f"{r.name:<22} {r.version:>3}  {r.model_id:<30} {r.created:<25} {r.state:<12} {r.note}")


def _control(url: str, protocol: str, action: str, name: str) -> None:
    with TritonClient(url, protocol=protocol, timeout_s=120) as client:
        client.load(name) if action == "load" else client.unload(name)


@models_app.command("load")
def models_load(name: str, url: Url = "127.0.0.1:8001", protocol: Proto = "grpc") -> None:
    """Load (or reload) a model on a running server (explicit model control)."""
    _run(lambda: _control(url, protocol, "load", name))
    typer.echo(f"loaded {name}")


@models_app.command("unload")
def models_unload(name: str, url: Url = "127.0.0.1:8001", protocol: Proto = "grpc") -> None:
    """Unload a model from a running server."""
    _run(lambda: _control(url, protocol, "unload", name))
    typer.echo(f"unloaded {name}")


Grace = Annotated[
    float,
    typer.Option(help="seconds the old version keeps serving after the switch (≥ the API's version TTL)"),
]
Keep = Annotated[bool, typer.Option(help="keep the replaced version loaded (default: unload it)")]


def _lifecycle(action: str, url: str, go: Callable[[TritonClient], Any]) -> None:
    def call() -> Any:
        with TritonClient(url, timeout_s=120) as client:
            return go(client)

    out = _run(call)
    loaded = ", ".join(f"v{v}" for v in out.loaded)
    typer.echo(f"{action} {out.name} v{out.version}: done; loaded now: {loaded}")


@models_app.command("promote")
def models_promote(
    name: str,
    version: int,
    repository: Repo = Path("model_repository"),
    url: Url = "127.0.0.1:8001",
    keep_previous: Keep = False,
    grace: Grace = 2.0,
) -> None:
    """Load VERSION beside the served one, verify it (warm-up, parity vs ORT), switch, unload the old."""
    from modelserve.lifecycle import promote

    _lifecycle(
        "promote",
        url,
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
) -> None:
    """Serve an earlier version again, with the same checks as promote."""
    from modelserve.lifecycle import rollback

    _lifecycle(
        "rollback",
        url,
        lambda c: rollback(c, repository, name, version, keep_previous=keep_previous, grace_s=grace),
    )


@models_app.command("retire")
def models_retire(
    name: str, version: int, repository: Repo = Path("model_repository"), url: Url = "127.0.0.1:8001"
) -> None:
    """Unload a version that is not served and keep it from being promoted again."""
    from modelserve.lifecycle import retire

    _lifecycle("retire", url, lambda c: retire(c, repository, name, version))


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

    typer.echo(json.dumps(_run(go)))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
