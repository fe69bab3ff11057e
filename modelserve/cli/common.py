"""What every ``modelserve`` verb shares: option types, one-line errors, logging, clients."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from modelserve.benchmarks.errors import BenchmarkError
from modelserve.client import ClientError, TritonClient
from modelserve.export.errors import ExportError
from modelserve.monitor.errors import StoreError
from modelserve.ops.control import resolve_key
from modelserve.ops.errors import OpsError
from modelserve.repository.errors import RepositoryError
from modelserve.serve.errors import ServeError

T = TypeVar("T")
Repo = Annotated[
    Path, typer.Option("--repository", "-r", envvar="MODELSERVE_REPOSITORY", help="model repository")
]
HttpPort = Annotated[int, typer.Option(envvar="MODELSERVE_HTTP_PORT", help="Triton HTTP port (0: any free)")]
GrpcPort = Annotated[int, typer.Option(envvar="MODELSERVE_GRPC_PORT", help="Triton gRPC port (0: any free)")]
MetricsPort = Annotated[int, typer.Option(envvar="MODELSERVE_METRICS_PORT", help="Triton metrics port")]
WorkDir = Annotated[Path, typer.Option(envvar="MODELSERVE_WORK_DIR", help="backend dir and server logs")]
Url = Annotated[
    str,
    typer.Option(
        "--url", envvar="MODELSERVE_TRITON_URL", help="Triton host:port, several as a,b, or dns:///name:port"
    ),
]
Proto = Annotated[str, typer.Option("--protocol", help="grpc or http (match the port)")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="log progress")]
ApiWorkers = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        envvar="MODELSERVE_API_WORKERS",
        help="API worker processes on the one port (cores to spare: more requests per second)",
    ),
]
Control = Annotated[
    str,
    typer.Option(
        "--model-control",
        envvar="MODELSERVE_MODEL_CONTROL",
        help="explicit (load/unload on request), poll (follow the repository) or none (all at start)",
    ),
]
ControlKey = Annotated[
    str | None,
    typer.Option(
        "--control-key",
        envvar="MODELSERVE_CONTROL_KEY",
        help="Triton's control-plane key (default: the one `modelserve up`/`serve` wrote into the work dir)",
        show_default=False,
    ),
]

# The one rule: a failure a user can act on (each package's error root, a bad value, a missing or
# unreadable file) is one red line and exit 1; anything else is a bug and keeps its traceback.
HANDLED = (
    ClientError,
    ServeError,
    ExportError,
    RepositoryError,
    StoreError,
    OpsError,
    BenchmarkError,
    ValueError,
    OSError,
)


def setup_logging(verbose: bool) -> None:
    """The only place handlers are configured: library modules only log."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def fail(message: str) -> NoReturn:
    """A refusal of the verb's own (a gate that did not pass): one red line, exit 1."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def progress(message: str) -> None:
    typer.echo(f"  ... {message}", err=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except ValidationError as exc:  # settings from flags and MODELSERVE_* variables
        typer.secho(f"error: {describe_invalid(exc)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except HANDLED as exc:
        fail(str(exc))


def describe_invalid(exc: ValidationError) -> str:
    """pydantic's report in one line: the first bad setting, its variable and the reason."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if where and exc.title.endswith("Settings"):  # our settings classes read MODELSERVE_<FIELD>
        message = f"{where} (MODELSERVE_{where.upper()}): {message}"
    elif where:
        message = f"{where}: {message}"
    more = len(exc.errors()) - 1
    return message + (f" (and {more} more)" if more else "")


def run(fn: Callable[[], T]) -> T:
    with one_line_errors():
        return fn()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def client(
    url: str,
    *,
    protocol: str = "grpc",
    timeout_s: float = 30.0,
    control_key: str | None = None,
    work_dir: Path = Path(".modelserve"),
) -> TritonClient:
    return TritonClient(
        url, protocol=protocol, timeout_s=timeout_s, control_key=resolve_key(control_key, work_dir)
    )
