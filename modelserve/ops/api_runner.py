"""Run the API in this process or as several uvicorn worker processes on one port.

One Python process spends ~0.7 ms of CPU per small request, so on a box with cores to spare
several workers serve more. Workers are separate interpreters (uvicorn's multiprocess mode): each
builds its app from the environment (``app_from_env``), so the settings travel as ``MODELSERVE_*``
variables; Prometheus counters are shared through files (prometheus_client's multiprocess mode)
so ``/metrics`` answers for all workers; the embedded Triton's supervisor state reaches them
through a small status file that ``up`` keeps current.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelserve.ops.errors import ApiStartError
from modelserve.repository.atomic import write_atomic
from modelserve.serve.supervisor import Status
from modelserve.serving.settings import ApiSettings

STATUS_ENV = "MODELSERVE_TRITON_STATUS_FILE"
PROMETHEUS_ENV = "PROMETHEUS_MULTIPROC_DIR"
StatusReader = Callable[[], Status]


def settings_env(settings: ApiSettings) -> dict[str, str]:
    """The environment that makes ``ApiSettings()`` in a worker equal ``settings``."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, list | dict | bool) else str(value)
        env[f"MODELSERVE_{name.upper()}"] = text
    return env


def file_status(path: Path) -> StatusReader:
    """The supervisor's status as ``up`` last wrote it; unknown reads as ready, so Triton's own
    health decides."""

    def read() -> Status:
        try:
            raw = json.loads(path.read_text())
            return Status(str(raw["state"]), str(raw["reason"]), int(raw.get("restarts", 0)))
        except (OSError, ValueError, KeyError, TypeError):
            return Status("ready", "", 0)

    return read


def _api_restarts(path: Path) -> Callable[[], float]:
    def read() -> float:
        try:
            return float(json.loads(path.read_text()).get("api_restarts", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0.0

    return read


def app_from_env() -> Any:
    """uvicorn's factory in each worker process."""
    from modelserve.api.app import create_app

    status = os.environ.get(STATUS_ENV)
    app = create_app(ApiSettings(), triton_status=file_status(Path(status)) if status else None)
    if status:
        app.state.metrics.scraped.add(
            "modelserve_api_worker_restarts",
            "API worker processes that died and were started again",
            _api_restarts(Path(status)),
        )
    return app


class StatusWriter:
    """Keeps ``path`` equal to ``status()`` (polled: the supervisor has no change hook)."""

    def __init__(self, path: Path, status: StatusReader, every_s: float = 0.25) -> None:
        self.path, self.status, self.every_s = path, status, every_s
        self.api_restarts: Callable[[], int] = lambda: 0  # the API workers that died
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-writer", daemon=True)

    def start(self) -> None:
        self._write(self._now())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _now(self) -> dict[str, Any]:
        return {**self.status()._asdict(), "api_restarts": self.api_restarts()}

    def _run(self) -> None:
        last = self._now()
        while not self._stop.wait(self.every_s):
            now = self._now()
            if now != last:
                self._write(now)
                last = now

    def _write(self, status: dict[str, Any]) -> None:
        write_atomic(self.path, json.dumps(status).encode())  # a worker never reads half a file


class ApiRunner:
    """``run()`` blocks until Ctrl-C/SIGTERM or ``stop()`` (from another thread)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        host: str,
        port: int,
        workers: int,
        verbose: bool,
        work_dir: Path,
        triton_status: StatusReader | None = None,
        isolated: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError(f"--api-workers must be 1 or more, got {workers}")
        self.settings, self.host, self.port, self.workers = settings, host, port, workers
        self.log_level = "info" if verbose else "warning"  # uvicorn's access log is info
        self.work_dir, self.triton_status = work_dir, triton_status
        # Workers in child processes even when there is one: a crash in a worker (the monitoring
        # store's SQLite, a native library) then costs that worker, restarted, and not the
        # process that supervises Triton (``modelserve up``).
        self.isolated = isolated
        self._server: Any = None
        self._writer: StatusWriter | None = None

    def run(self) -> None:
        import uvicorn
        from uvicorn.config import STARTUP_FAILURE

        from modelserve.ops.connections import uvicorn_options

        self._open_store()
        if self.workers == 1 and not self.isolated:
            from modelserve.api.app import create_app

            app = create_app(self.settings, triton_status=self.triton_status)
            self._server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=self.host,
                    port=self.port,
                    log_level=self.log_level,
                    **uvicorn_options(self.settings),
                )
            )
            try:
                self._server.run()
            except SystemExit as exc:  # uvicorn's way out of a failed start-up
                if exc.code == STARTUP_FAILURE:
                    raise ApiStartError("the API failed to start (its error is above)") from None
                raise
            return
        os.environ.update(settings_env(self.settings))
        metrics_dir = self.work_dir / "api-metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # counters start at zero with the API
        metrics_dir.mkdir(parents=True)
        os.environ[PROMETHEUS_ENV] = str(metrics_dir.resolve())
        if self.triton_status is not None:
            path = (self.work_dir / "triton-status.json").resolve()
            self._writer = StatusWriter(path, self.triton_status)
            self._writer.start()
            os.environ[STATUS_ENV] = str(path)
        from modelserve.ops.api_workers import Workers

        config = uvicorn.Config(
            "modelserve.ops.api_runner:app_from_env",
            factory=True,
            host=self.host,
            port=self.port,
            workers=self.workers,
            log_level=self.log_level,
            **uvicorn_options(self.settings),
        )
        # uvicorn.run's own multi-worker path, kept in hand to see how the workers ended: when one
        # fails to start, uvicorn stops the rest and returns as if all went well (exit code 0).
        sock = config.bind_socket()
        supervisor = Workers(config, sockets=[sock])
        if self._writer is not None:
            self._writer.api_restarts = lambda: Workers.restarts
        try:
            supervisor.run()
        finally:
            sock.close()
            if self._writer is not None:
                self._writer.stop()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise ApiStartError("an API worker failed to start (its error is above)")

    def _open_store(self) -> None:
        """Open the monitoring store once here, before any worker: its tables are created by one
        process (two workers creating them at once on a fresh SQLite file: one failed), and a
        store that cannot open is one error line instead of a traceback per worker."""
        if not self.settings.monitoring:
            return
        from modelserve.monitor.errors import StoreError
        from modelserve.monitor.store import Store

        try:
            Store(self.settings.monitoring_url).close()
        except StoreError as exc:
            raise ApiStartError(str(exc)) from None

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True  # uvicorn checks it every tick and shuts down
        else:
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's process manager stops its workers
