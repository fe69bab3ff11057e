"""Run the real ``tritonserver`` from the nvidia-pytriton wheel on a model repository.

Choices (documented in the README):
- model control ``explicit`` with every model loaded at start: load/unload work at run time and a
  model's files never change under a serving version without someone asking.
- ``--strict-readiness=false`` and ``--exit-on-error=false``: one model that fails to load must
  not make the whole server unready or stop it; readiness is checked per model.
- Each server gets its own shared-memory prefix, so stop() can prove it left no /dev/shm files.
- The backend stub runs in its own environment with numpy 1.x (serve/stub_env.py says why).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from modelserve.serve import ports, stub_env
from modelserve.serve.errors import RepositoryError, ServerStartError
from modelserve.serve.layout import prepare_backend_dir
from modelserve.serve.locate import TritonDistribution, libpython_dir, locate_triton
from modelserve.serve.preflight import check_caches
from modelserve.serve.settings import CONTROL_HEADER, ServerSettings
from modelserve.serve.stub_env import StubEnvironment

logger = logging.getLogger(__name__)

SHM_DIR = Path("/dev/shm")
_STOP_GRACE_S = 20.0  # beyond Triton's own exit timeout


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    host: str
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"


def server_environment(
    dist: TritonDistribution, stub: StubEnvironment, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The stub finds Python through PATH and its bundled libs through LD_LIBRARY_PATH."""
    env = dict(os.environ if base is None else base)
    # The stub's environment first (numpy 1.x), then this one's bin (tools a model may call).
    bins = (str(stub.bin_dir), str(Path(sys.executable).parent), env.get("PATH", ""))
    env["PATH"] = os.pathsep.join(dict.fromkeys(p for p in bins if p))
    libs = [str(dist.libs_dir), str(libpython_dir()), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
    env.pop("PYTHONPATH", None)  # the stub ignores it; do not pretend otherwise
    return env


def build_command(
    dist: TritonDistribution,
    settings: ServerSettings,
    endpoints: Endpoints,
    backend_dir: Path,
    shm_prefix: str,
    control_key: str | None = None,
) -> list[str]:
    cmd = [
        str(dist.binary),
        f"--model-repository={settings.repository.resolve()}",
        f"--backend-directory={backend_dir.resolve()}",
        f"--http-address={endpoints.host}",
        f"--http-port={endpoints.http_port}",
        f"--grpc-address={settings.grpc_host or endpoints.host}",
        f"--grpc-port={endpoints.grpc_port}",
        f"--metrics-address={endpoints.host}",
        f"--metrics-port={endpoints.metrics_port}",
        "--allow-metrics=true",
        "--strict-readiness=false",
        "--exit-on-error=false",
        f"--model-control-mode={settings.model_control}",
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
        f"--log-verbose={settings.log_verbose}",
        f"--exit-timeout-secs={settings.exit_timeout_s}",
    ]
    if control_key is not None:
        restricted = f"{','.join(settings.restricted_apis)}:{CONTROL_HEADER}={control_key}"
        cmd += [f"--http-restricted-api={restricted}", f"--grpc-restricted-protocol={restricted}"]
    if settings.cache_config:
        # Triton looks for cache libraries under /opt/tritonserver/caches unless told; the wheel
        # ships them beside the binary.
        cmd.append(f"--cache-directory={dist.cache_dir}")
        cmd += [f"--cache-config={value}" for value in settings.cache_config]
    if settings.model_control == "explicit":
        cmd += [f"--load-model={name}" for name in settings.load_models]
    elif settings.model_control == "poll":
        cmd.append(f"--repository-poll-secs={settings.poll_interval_s}")
    return cmd + list(settings.extra_args)


def _die_with_parent() -> list[str]:
    """A prefix that has the kernel send tritonserver SIGTERM when the process (the thread) that
    started it dies: after a kill -9 of `modelserve serve` it otherwise lived on, orphaned, holding
    the ports and models and answering as if supervised. util-linux's setpriv sets it and execs
    the server (same pid); without setpriv the server is started as before."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class EmbeddedTriton:
    """A tritonserver process: ``with EmbeddedTriton(settings) as server: ...``."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._proc: subprocess.Popen[bytes] | None = None
        self._endpoints: Endpoints | None = None
        self.shm_prefix = f"modelserve_{os.getpid()}_{uuid.uuid4().hex[:8]}_"
        self.log_path: Path | None = None
        self.shm_left_by_server = 0
        self.control_key: str | None = None
        if settings.lock_control_plane:
            self.control_key = settings.control_key or secrets.token_urlsafe(24)

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise ServerStartError("the server has not been started")
        return self._endpoints

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def _resolve_endpoints(self) -> Endpoints:
        s = self.settings
        taken: set[int] = set()
        chosen = []
        binds = ((s.http_port, "HTTP", s.host), (s.grpc_port, "gRPC", s.grpc_host or s.host))
        for port, what, host in (*binds, (s.metrics_port, "metrics", s.host)):
            chosen.append(ports.resolve(host, port, what, taken))
            taken.add(chosen[-1])
        return Endpoints(host=s.host, http_port=chosen[0], grpc_port=chosen[1], metrics_port=chosen[2])

    def start(self) -> Endpoints:
        repo = self.settings.repository
        if not repo.is_dir():
            raise RepositoryError(f"model repository {repo} does not exist or is not a directory")
        dist = locate_triton()
        check_caches(dist, self.settings.cache_config)
        stub = stub_env.locate(self.settings.stub_env)
        work = self.settings.work_dir
        backend_dir = prepare_backend_dir(dist, work / "backends")
        self._endpoints = self._resolve_endpoints()
        (work / "logs").mkdir(parents=True, exist_ok=True)
        self.log_path = work / "logs" / f"tritonserver-{self._endpoints.http_port}.log"
        if self.log_path.exists():  # the previous server's log (a crash's reason) stays, as .log.1
            self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
        cmd = build_command(
            dist, self.settings, self._endpoints, backend_dir, self.shm_prefix, self.control_key
        )
        logger.info("starting tritonserver (log: %s)", self.log_path)
        with self.log_path.open("wb") as log:
            # A session of its own lets stop() signal the server and its stub processes together.
            self._proc = subprocess.Popen(
                [*_die_with_parent(), *cmd],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_environment(dist, stub),
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self._endpoints

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        url = f"http://{self.endpoints.http_url}/v2/health/ready"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServerStartError(
                    f"tritonserver exited with code {self._proc.returncode} during start; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=1.0) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.1)
        raise ServerStartError(
            f"tritonserver not ready after {self.settings.ready_timeout_s:.0f}s; log {self.log_path}:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self) -> int:
        """Block until the server exits (used by ``modelserve serve``)."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def kill(self) -> None:
        """At once: SIGKILL to the server and its stubs (a hung server ignores SIGTERM), then the
        shared-memory files."""
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            self._proc = None
        self.shm_left_by_server = remove_shm_files(self.shm_prefix)

    def stop(self) -> None:
        """Graceful stop (SIGTERM, then SIGKILL of the whole group), then remove our shm files."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.settings.exit_timeout_s + _STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    logger.warning("tritonserver did not stop in time; killing it")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # stubs left behind by a crash or timeout
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            self._proc = None
        # Counted before cleaning, so tests can tell a clean exit from one we had to tidy after.
        self.shm_left_by_server = remove_shm_files(self.shm_prefix)
        if self.shm_left_by_server:
            logger.warning("removed %d shm files the server left behind", self.shm_left_by_server)

    def leftover_shm_files(self) -> list[Path]:
        return sorted(SHM_DIR.glob(f"{self.shm_prefix}*"))

    def __enter__(self) -> EmbeddedTriton:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def remove_shm_files(prefix: str) -> int:
    count = 0
    for path in SHM_DIR.glob(f"{prefix}*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            count += 1
    return count
