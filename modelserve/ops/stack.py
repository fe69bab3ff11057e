"""An embedded Triton, and the API in front of it, on free ports for as long as a ``with`` block
runs: how the tests, the benchmarks and the demo try a repository without the fixed ports
``modelserve up`` takes.

    with local_triton(repo, work) as triton:              # the server alone
        with serving(create_app(settings)) as url: ...    # the API in this process (a thread)
        with api_process(triton.endpoints.grpc_url, repo, log) as api: api.base_url
                                                          # the API as deployed: its own process
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from modelserve.ops.errors import ApiStartError
from modelserve.serve.ports import free_port
from modelserve.serve.server import EmbeddedTriton
from modelserve.serve.settings import ServerSettings

START_TIMEOUT_S = 90.0


@contextmanager
def local_triton(repository: Path, work_dir: Path, **settings: Any) -> Iterator[EmbeddedTriton]:
    """``tritonserver`` serving ``repository`` on free ports; ``settings``: the rest of
    ``ServerSettings`` (``lock_control_plane=False`` where a test drives model control)."""
    config = ServerSettings(
        repository=repository, http_port=0, grpc_port=0, metrics_port=0, work_dir=work_dir, **settings
    )
    with EmbeddedTriton(config) as triton:
        yield triton


@contextmanager
def serving(app: Any, *, timeout_s: float = 60.0) -> Iterator[str]:
    """An ASGI app under uvicorn in a thread of this process on a free port; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ApiStartError(f"the API did not start on 127.0.0.1:{port} within {timeout_s:g} s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = START_TIMEOUT_S) -> None:
    """Until ``url`` answers 200; a process that exits first fails with its log's tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ApiStartError(f"{proc.args!r} exited with {proc.returncode} before answering:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise ApiStartError(f"{url} did not answer within {timeout_s:.0f} s (log: {log})")


class HttpServerProcess:
    """``with HttpServerProcess(argv, health_path, log) as p: p.base_url``; ``{port}`` in argv is
    replaced by a free port. Its own process group, so workers it forks go with it."""

    def __init__(
        self, argv: Sequence[str], health_path: str, log: Path, *, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._argv = [a.replace("{port}", str(self.port)) for a in argv]
        self._health = health_path
        self._log = log
        self._env = {**os.environ, **(env or {})}
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HttpServerProcess:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                self._argv, stdout=log, stderr=subprocess.STDOUT, env=self._env, start_new_session=True
            )
        try:
            wait_http(self.base_url + self._health, self._proc, self._log)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int:
        """The server's pid (also its process group: workers it forks share it)."""
        if self._proc is None:
            raise ApiStartError("the server is not running")
        return self._proc.pid

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def api_process(
    triton_grpc_url: str, repository: Path, log: Path, *, monitoring: bool = True, workers: int = 1
) -> HttpServerProcess:
    """The API as deployed: uvicorn, ``workers`` processes (``--api-workers``), pointed at the
    Triton under test. ``monitoring`` off: the baseline that shows what recording every
    prediction costs."""
    argv = [sys.executable, "-m", "uvicorn", "modelserve.api.app:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning", "--no-access-log"]
    env = {"MODELSERVE_TRITON_URL": triton_grpc_url, "MODELSERVE_REPOSITORY": str(repository)}
    if workers > 1:
        argv += ["--workers", str(workers)]
        metrics_dir = log.parent / "api-metrics"  # shared counters, as `up --api-workers` sets them
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    # The API records every prediction (monitoring, on as deployed): into the run's own folder
    # unless the caller's environment names a store.
    if "MODELSERVE_MONITORING_URL" not in os.environ:
        env["MODELSERVE_MONITORING_URL"] = f"sqlite:///{log.parent.resolve()}/monitoring.sqlite"
    if not monitoring:
        env["MODELSERVE_MONITORING"] = "false"
    return HttpServerProcess(argv, "/health", log, env=env)


__all__ = ["HttpServerProcess", "api_process", "local_triton", "serving", "wait_http"]
