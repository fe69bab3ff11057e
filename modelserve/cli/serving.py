"""``modelserve demo|serve|up``: the embedded Triton (supervised), and the API beside it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from modelserve.cli.common import (
    ApiWorkers,
    Control,
    ControlKey,
    GrpcPort,
    HttpPort,
    MetricsPort,
    Repo,
    Verbose,
    WorkDir,
    run,
    setup_logging,
    sigterm_as_interrupt,
)
from modelserve.ops.control import write_key
from modelserve.repository import ModelRepository
from modelserve.serve import ports
from modelserve.serve.settings import ServerSettings
from modelserve.serve.supervisor import Supervisor

logger = logging.getLogger(__name__)

OpenControl = Annotated[
    bool,
    typer.Option(
        "--open-control-plane",
        help="leave Triton's load/unload, shared-memory, trace and log APIs unrestricted (not recommended)",
    ),
]
GrpcHost = Annotated[
    str | None,
    typer.Option(
        envvar="MODELSERVE_GRPC_HOST",
        help="address Triton's gRPC listens on, e.g. 0.0.0.0 to serve other hosts; HTTP and metrics "
        "stay on 127.0.0.1 (docs/operations.md)",
    ),
]
MaxBackoff = Annotated[
    float,
    typer.Option(
        "--max-restart-backoff",
        envvar="MODELSERVE_MAX_RESTART_BACKOFF_S",
        min=0.1,
        help="seconds: the longest wait between restarts of a crashing Triton (it never gives up)",
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


def server_settings(
    repository: Path,
    http: int,
    grpc: int,
    metrics: int,
    work_dir: Path,
    control: str = "explicit",
    *,
    control_key: str | None = None,
    open_control_plane: bool = False,
    cache_config: list[str] | None = None,
    grpc_host: str | None = None,
) -> ServerSettings:
    return run(
        lambda: ServerSettings(
            repository=repository,
            http_port=http,
            grpc_port=grpc,
            metrics_port=metrics,
            work_dir=work_dir,
            model_control=control,  # type: ignore[arg-type]  # validated by ServerSettings
            lock_control_plane=not open_control_plane,
            control_key=control_key,
            cache_config=tuple(cache_config or ()),
            grpc_host=grpc_host,
        )
    )


def _announce(supervisor: Supervisor, work_dir: Path) -> None:
    e = supervisor.endpoints
    typer.echo(f"Triton ready: HTTP {e.http_url}  gRPC {e.grpc_url}  metrics {e.metrics_url}")
    key = supervisor.control_key
    if key is None:
        typer.echo("control plane OPEN: anyone reaching Triton's ports can load and unload models")
        return
    path = write_key(work_dir, key)
    # Child processes (the retraining job) and this process's clients find it too.
    os.environ["MODELSERVE_CONTROL_KEY"] = key
    typer.echo(f"control plane locked; key in {path} (models load/unload/promote read it from there)")


def demo(
    repository: Repo = Path("model_repository"),
    http_port: HttpPort = 8000,
    grpc_port: GrpcPort = 8001,
    metrics_port: MetricsPort = 8002,
    work_dir: WorkDir = Path(".modelserve"),
    verbose: Verbose = False,
) -> None:
    """Export the demo models, start the embedded Triton, answer requests over gRPC and HTTP, stop."""
    from modelserve.ops.demo import run_demo

    setup_logging(verbose)
    settings = server_settings(repository, http_port, grpc_port, metrics_port, work_dir)
    typer.echo(f"exporting demo models into {repository}/ and starting the embedded Triton ...")
    models, endpoints, answers = run(lambda: run_demo(settings))
    for model in models:
        done = "unchanged" if model.written.reused else "exported"  # a version is never rewritten
        typer.echo(f"  {done} {model.name} v{model.written.version} ({model.written.model_path})")
    typer.echo(f"Triton served on HTTP {endpoints.http_url}, gRPC {endpoints.grpc_url}:")
    typer.echo(f"  {'model':<18} {'proto':<5} {'first features':<30} {'predicted':<10} confidence")
    for a in answers:
        typer.echo(f"  {a.model:<18} {a.protocol:<5} {a.row!s:<30} {a.predicted:<10} {a.confidence:.3f}")
    typer.echo("Server stopped. `modelserve up` keeps it running with the API; see README for curl examples.")


def serve(
    repository: Repo = Path("model_repository"),
    http_port: HttpPort = 8000,
    grpc_port: GrpcPort = 8001,
    metrics_port: MetricsPort = 8002,
    model_control: Control = "explicit",
    cache_config: CacheConfig = None,
    work_dir: WorkDir = Path(".modelserve"),
    control_key: ControlKey = None,
    open_control_plane: OpenControl = False,
    grpc_host: GrpcHost = None,
    max_restart_backoff: MaxBackoff = 30.0,
    verbose: Verbose = False,
) -> None:
    """Run the embedded Triton on a repository until Ctrl-C / SIGTERM, restarting it if it dies."""
    setup_logging(verbose)
    settings = server_settings(
        repository, http_port, grpc_port, metrics_port, work_dir, model_control,
        control_key=control_key, open_control_plane=open_control_plane, cache_config=cache_config,
        grpc_host=grpc_host,
    )  # fmt: skip
    supervisor = Supervisor(settings, max_backoff_s=max_restart_backoff)
    with sigterm_as_interrupt():
        try:
            run(supervisor.start)
            _announce(supervisor, work_dir)
            # `up` and `api` warn as the API starts
            for line in ModelRepository(repository).random_warnings():
                logger.warning("%s", line)
            typer.echo(f"log: {supervisor.server.log_path}  (Ctrl-C stops)")
            supervisor.wait()
        except KeyboardInterrupt:
            typer.echo("stopping ...")
        finally:
            supervisor.stop()


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
    control_key: ControlKey = None,
    open_control_plane: OpenControl = False,
    grpc_host: GrpcHost = None,
    max_restart_backoff: MaxBackoff = 30.0,
    api_workers: ApiWorkers = 1,
    verbose: Verbose = False,
) -> None:
    """Run the embedded Triton (supervised) and the FastAPI front beside it until Ctrl-C / SIGTERM."""
    from modelserve.ops.api_runner import ApiRunner
    from modelserve.serving.settings import ApiSettings

    setup_logging(verbose)
    settings = server_settings(
        repository, http_port, grpc_port, metrics_port, work_dir, model_control,
        control_key=control_key, open_control_plane=open_control_plane, cache_config=cache_config,
        grpc_host=grpc_host,
    )  # fmt: skip
    run(lambda: ports.check_free(api_host, api_port, "API"))  # before anything starts
    api_settings = run(lambda: ApiSettings(repository=repository, api_bind=api_host))
    supervisor = Supervisor(settings, max_backoff_s=max_restart_backoff)
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again; with Python's
    # default handler that ended the process before `finally`, leaving tritonserver running.
    with sigterm_as_interrupt():
        try:
            e = run(supervisor.start)
            _announce(supervisor, work_dir)
            typer.echo(f"API on http://{api_host}:{api_port} (docs at /docs); Ctrl-C stops both")
            api_settings = api_settings.model_copy(
                update={
                    "triton_url": e.grpc_url,
                    "triton_protocol": "grpc",
                    "control_key": supervisor.control_key,
                }
            )
            if "MODELSERVE_MONITORING_URL" not in os.environ:  # the store goes beside the server's logs
                store = f"sqlite:///{work_dir}/monitoring.sqlite"
                api_settings = api_settings.model_copy(update={"monitoring_url": store})
            if api_settings.monitoring:
                typer.echo(
                    f"Monitoring into {api_settings.monitoring_url}; live: ws://{api_host}:{api_port}/ws/metrics"
                )
            api = ApiRunner(
                api_settings,
                host=api_host,
                port=api_port,
                workers=api_workers,
                verbose=verbose,
                work_dir=work_dir,
                triton_status=supervisor.status,
                isolated=True,  # a crashed API worker is restarted; Triton's supervisor lives on
            )
            run(api.run)
        except KeyboardInterrupt:
            typer.echo("stopping ...")
        finally:
            supervisor.stop()


def api(
    url: Annotated[
        str,
        typer.Option(
            "--url",
            envvar="MODELSERVE_TRITON_URL",
            help="Triton gRPC host:port; several replicas as a,b or dns:///name:port",
        ),
    ] = "127.0.0.1:8001",
    repository: Repo = Path("model_repository"),
    api_port: Annotated[int, typer.Option(envvar="MODELSERVE_API_PORT", help="API port")] = 8080,
    api_host: Annotated[
        str, typer.Option(envvar="MODELSERVE_API_HOST", help="API bind address")
    ] = "127.0.0.1",
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
    api_workers: ApiWorkers = 1,
    verbose: Verbose = False,
) -> None:
    """Run the API alone, in front of Triton servers started elsewhere (``serve``, NGC, a cluster)."""
    from modelserve.ops.api_runner import ApiRunner
    from modelserve.ops.control import resolve_key
    from modelserve.serving.settings import ApiSettings

    setup_logging(verbose)
    run(lambda: ports.check_free(api_host, api_port, "API"))
    settings = run(
        lambda: ApiSettings(
            triton_url=url,
            triton_protocol="grpc",
            repository=repository,
            api_bind=api_host,
            control_key=resolve_key(control_key, work_dir),
        )
    )
    typer.echo(f"API on http://{api_host}:{api_port} in front of Triton at {url}; Ctrl-C stops")
    runner = ApiRunner(
        settings,
        host=api_host,
        port=api_port,
        workers=api_workers,
        verbose=verbose,
        work_dir=work_dir,
    )
    with sigterm_as_interrupt():
        try:
            run(runner.run)
        except KeyboardInterrupt:
            typer.echo("stopping ...")


def stub_env(
    action: Annotated[str, typer.Argument(help="create (or refresh) | check")],
    root: Annotated[
        Path | None, typer.Option(help="default: $MODELSERVE_STUB_ENV or <venv>/stub-runtime")
    ] = None,
) -> None:
    """The Python environment the embedded server's backend stub runs in (numpy 1.x, onnxruntime)."""
    from modelserve.serve import stub_env as env

    if action not in ("create", "check"):
        raise typer.BadParameter(f"{action!r}; choose create or check", param_hint="ACTION")
    setup_logging(True)
    found = run(lambda: env.create(root) if action == "create" else env.locate(root))
    typer.echo(f"stub environment: {found.root}")
