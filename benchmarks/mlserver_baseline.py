"""Seldon MLServer (sklearn runtime) as a benchmark baseline.

Why: it is the common off-the-shelf way to serve a joblib'd scikit-learn model over the V2 protocol,
so the benchmark compares our server against it on the same model and the same request bytes.
MLServer lives in its OWN venv: its pins (fastapi, pydantic, uvicorn, ...) must not touch ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

from modelserve.benchmarks.errors import BaselineError
from modelserve.serve.ports import free_port

# The newest releases; both install cleanly on CPython 3.11. uvloop>=0.22 makes the
# get_event_loop() in MLServer's inference workers raise, so parallel_workers>0 dies at start
# (SeldonIO/MLServer#2286, unfixed in 1.7.1).
MLSERVER_PINS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop==0.21.0")
MODEL_NAME = "model"
HOST = "127.0.0.1"


def _sklearn_pin() -> list[str]:
    # Same scikit-learn as the one that wrote the joblib file: pickles are not portable across versions.
    try:
        return [f"scikit-learn=={metadata.version('scikit-learn')}"]
    except metadata.PackageNotFoundError:
        return []


def ensure_venv(venv_dir: Path) -> Path:
    """Create ``venv_dir`` with MLServer installed unless it is there; return its ``mlserver`` script."""
    mlserver = venv_dir / "bin" / "mlserver"
    if mlserver.exists():
        return mlserver
    steps = [
        [sys.executable, "-m", "venv", str(venv_dir)],
        [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "-q", *MLSERVER_PINS, *_sklearn_pin()],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            # pip warns once per unreachable extra index; keep the lines that say what failed.
            lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("WARNING: Location")]
            tail = "\n".join(lines[-20:])
            raise BaselineError(f"{' '.join(cmd)} failed with exit code {done.returncode}:\n{tail}")
    if not mlserver.exists():
        raise BaselineError(f"pip succeeded but {mlserver} is missing")
    return mlserver


def request_body(rows: list[list[float]]) -> bytes:
    """A V2 JSON inference request: one [n, features] tensor, answered with ``predict`` output.

    FP64 because that is sklearn's native dtype (JSON text costs the same either way), so MLServer's
    predictions match an in-process ``predict`` on float64 exactly. The sklearn runtime decodes the
    single input with NumpyRequestCodec and, with no ``outputs`` asked for, returns only ``predict``:
    ``{"outputs": [{"name": "predict", "shape": [n, 1], "datatype": "INT64", "data": [...]}], ...}``
    (datatype follows the labels). ``"outputs": [{"name": "predict_proba"}]`` gives FP64 [n, classes].
    """
    width = len(rows[0]) if rows else 0
    data = [float(value) for row in rows for value in row]
    tensor = {"name": "input-0", "shape": [len(rows), width], "datatype": "FP64", "data": data}
    return json.dumps({"inputs": [tensor]}).encode()


class MLServer:
    """``mlserver start`` on one joblib model, from ready to stopped, as a context manager."""

    infer_path = f"/v2/models/{MODEL_NAME}/infer"

    def __init__(
        self,
        model_path: Path,
        work_dir: Path,
        venv_dir: Path,
        *,
        adaptive_batching: bool = True,
        max_batch_size: int = 16,
        max_batch_time_s: float = 0.001,
        http_port: int = 0,
        grpc_port: int = 0,
        metrics_port: int = 0,
        parallel_workers: int = 0,
        ready_timeout_s: float = 120.0,
    ) -> None:
        self.model_path = model_path.resolve()
        self.work_dir = work_dir.resolve()
        self.venv_dir = venv_dir
        self.adaptive_batching, self.max_batch_size = adaptive_batching, max_batch_size
        self.max_batch_time_s = max_batch_time_s
        # Three distinct ports: free_port() releases its socket, so two calls can return the same one.
        ports: list[int] = []
        for asked in (http_port, grpc_port, metrics_port):
            port = asked
            while port == 0 or (asked == 0 and port in ports):
                port = free_port(HOST)
            ports.append(port)
        self.http_port, self.grpc_port, self.metrics_port = ports
        # 0 runs inference in the server's own event loop. On a 2-core box it beat 1 and 2 workers:
        # with workers every request also crosses a multiprocessing queue to another process, and
        # the one spare core is already taken by the load generator.
        self.parallel_workers, self.ready_timeout_s = parallel_workers, ready_timeout_s
        self.base_url = f"http://{HOST}:{self.http_port}"
        self.log_path = self.work_dir / "mlserver.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def _write_settings(self, model_dir: Path) -> None:
        settings = {
            # debug=True (the default) turns on uvicorn's per-request access log; a benchmark
            # would measure logging. Metrics stay on (MLServer's default) on their own free port.
            "debug": False,
            "host": HOST,
            "http_port": self.http_port,
            "grpc_port": self.grpc_port,
            "metrics_port": self.metrics_port,
            "parallel_workers": self.parallel_workers,
            "model_repository_root": str(model_dir),
        }
        model: dict[str, object] = {
            "name": MODEL_NAME,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": str(self.model_path)},
        }
        if self.adaptive_batching:
            # Both must be set: MLServer batches only when max_batch_size > 1 and max_batch_time > 0.
            model["max_batch_size"] = self.max_batch_size
            model["max_batch_time"] = self.max_batch_time_s
        (self.work_dir / "settings.json").write_text(json.dumps(settings, indent=2))
        (model_dir / "model-settings.json").write_text(json.dumps(model, indent=2))

    def _ready(self) -> bool:
        url = f"{self.base_url}/v2/models/{MODEL_NAME}/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> MLServer:
        mlserver = ensure_venv(self.venv_dir)
        # The model settings sit in a subfolder so MLServer's repository scan finds only them.
        model_dir = self.work_dir / "models" / MODEL_NAME
        model_dir.mkdir(parents=True, exist_ok=True)
        self._write_settings(model_dir)
        # MLSERVER_* variables would override settings.json; drop them so the files are the truth.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLSERVER_")}
        with self.log_path.open("wb") as log:
            # cwd=work_dir: MLServer puts its .metrics/.envs folders in the working directory.
            self._proc = subprocess.Popen(
                [str(mlserver), "start", str(self.work_dir)],
                cwd=self.work_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so __exit__ also ends its workers
            )
        deadline = time.monotonic() + self.ready_timeout_s
        while not self._ready():
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._stop()
                raise BaselineError(f"mlserver exited early with code {code}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self._stop()
                raise BaselineError(f"mlserver not ready after {self.ready_timeout_s} s:\n{self._log_tail()}")
            time.sleep(0.2)
        return self

    def _stop(self, grace_s: float = 8.0) -> None:
        # The grace covers MLServer's own 5 s parallel_workers_timeout for stopping its workers.
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
        # SIGKILL the group even after a clean exit: a worker could outlive its parent.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def __exit__(self, *exc_info: object) -> None:
        self._stop()
