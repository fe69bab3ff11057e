"""A supervised embedded Triton: restarted after kill -9 and after a hang, given up on when restarts
run out; `modelserve up` keeps answering through a kill -9 and locks Triton's control plane."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelserve.client import AccessDeniedError, TritonClient
from modelserve.families.tabular.demo import export_demo_set
from modelserve.serve.ports import free_port
from modelserve.serve.server import Endpoints
from modelserve.serve.settings import ServerSettings
from modelserve.serve.supervisor import Supervisor
from tests.helpers import http_status, processes, save, scale_model, tritonservers

pytestmark = pytest.mark.integration
X = np.ones((1, 4), dtype=np.float32)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    save(scale_model(2.0), repo / "m" / "1" / "model.onnx")
    (repo / "m" / "config.pbtxt").write_text(
        'name: "m"\nbackend: "onnxruntime"\nmax_batch_size: 8\n'
        'input [{ name: "x" data_type: TYPE_FP32 dims: [4] }]\n'
        'output [{ name: "y" data_type: TYPE_FP32 dims: [4] }]\n'
    )
    return repo


def _members(pgid: int) -> list[int]:
    """Processes still in the process group the dead server led (its stubs, if any were left)."""
    return [p.pid for p in processes() if p.pgrp == pgid and p.state != "Z"]


def _wait(predicate: Any, limit_s: float, what: str) -> float:
    """Seconds until ``predicate()`` holds; fails the test past ``limit_s`` (a hang, not a timing)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < limit_s, f"{what} did not happen within {limit_s} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _settings(repo: Path, tmp_path: Path) -> ServerSettings:
    return ServerSettings(repository=repo, http_port=0, grpc_port=0, metrics_port=0, work_dir=tmp_path / "w")


def test_a_killed_server_is_restarted_on_its_ports_with_its_key_and_leaves_nothing(tmp_path):
    supervisor = Supervisor(_settings(_repo(tmp_path), tmp_path), probe_s=0.2)
    endpoints = supervisor.start()
    try:
        old_pid, old_prefix = supervisor.server.pid, supervisor.server.shm_prefix
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        seconds = _wait(
            lambda: supervisor.server.pid not in (None, old_pid) and supervisor.state == "ready",
            60,
            "restart",
        )
        print(f"restarted {seconds:.1f} s after kill -9")
        assert supervisor.endpoints == endpoints
        assert _members(old_pid) == []  # the dead server's stubs went with it
        assert not list(Path("/dev/shm").glob(f"{old_prefix}*"))
        _model_back(endpoints)  # a restarted server loads its models after it opens
        with TritonClient(endpoints.grpc_url, control_key=supervisor.control_key) as client:
            np.testing.assert_array_equal(client.infer("m", {"x": X})["y"], X * 2)
            assert {e.name for e in client.repository_index()} == {"m"}  # the same key still opens it
        assert len(supervisor.restarts) == 1
        log = supervisor.server.log_path
        assert log is not None and log.with_name(log.name + ".1").exists()  # the dead one's log kept
    finally:
        supervisor.stop()


def test_a_hung_server_is_killed_and_restarted(tmp_path):
    supervisor = Supervisor(_settings(_repo(tmp_path), tmp_path), probe_s=0.2, hang_after_s=1.0)
    endpoints = supervisor.start()
    try:
        old_pid = supervisor.server.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGSTOP)
        _wait(lambda: supervisor.server.pid != old_pid and supervisor.state == "ready", 60, "restart")
        assert len(supervisor.restarts) == 1
        assert _members(old_pid) == []
        _model_back(endpoints)  # a restarted server loads its models after it opens
        with TritonClient(endpoints.grpc_url) as client:
            np.testing.assert_array_equal(client.infer("m", {"x": X})["y"], X * 2)
    finally:
        supervisor.stop()


def test_the_supervisor_never_gives_up_and_backs_off_while_restarts_fail(tmp_path):
    """A restart that keeps failing is tried again, later each time (capped), until it works:
    several bad requests in a row must not end the service for good."""
    repo = _repo(tmp_path)
    supervisor = Supervisor(_settings(repo, tmp_path), probe_s=0.2, max_backoff_s=2.0)
    assert [supervisor.backoff(n) for n in range(5)] == [0.0, 1.0, 2.0, 2.0, 2.0]
    endpoints = supervisor.start()
    try:
        moved = repo.rename(tmp_path / "moved")  # no longer where the server looks: restarts fail
        pid = supervisor.server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: len(supervisor.restarts) >= 4, 90, "repeated restarts")
        assert supervisor.state == "restarting" and "restart failed" in supervisor.reason
        moved.rename(repo)  # the cause goes away: the next try brings the server back
        _wait(lambda: supervisor.status().state == "ready", 60, "the server back")
        assert supervisor.status().restarts == len(supervisor.restarts) >= 4
        _model_back(endpoints)  # a restarted server loads its models after it opens
        with TritonClient(endpoints.grpc_url) as client:
            np.testing.assert_array_equal(client.infer("m", {"x": X})["y"], X * 2)
    finally:
        supervisor.stop()


def _model_back(endpoints: Endpoints) -> None:
    _wait(lambda: _get(f"http://{endpoints.http_url}/v2/models/m/ready") == 200, 60, "model m reloaded")


_get = http_status


def test_up_keeps_answering_through_a_kill_9_and_locks_the_control_plane(tmp_path):
    repo = tmp_path / "repo"
    models = export_demo_set(repo)
    model = models[0]
    record = dict(zip(model.feature_names, (float(v) for v in model.sample[0]), strict=True))
    api_port, http_port, grpc_port = free_port(), free_port(), free_port()
    work = tmp_path / "w"
    argv = [sys.executable, "-m", "modelserve", "up", "-r", str(repo), "--work-dir", str(work)]
    argv += ["--http-port", str(http_port), "--grpc-port", str(grpc_port), "--metrics-port", "0"]
    argv += ["--api-port", str(api_port)]
    env = {**os.environ, "MODELSERVE_MONITORING": "false"}
    env.pop("MODELSERVE_CONTROL_KEY", None)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    try:
        _wait(lambda: _get(f"{api}/ready") == 200, 120, "up ready")
        # The control plane: closed to anyone without the key, over HTTP and gRPC ...
        unload = f"http://127.0.0.1:{http_port}/v2/repository/models/{model.name}/unload"
        assert _get(unload, method="POST", body=b"{}") == 403
        with TritonClient(f"127.0.0.1:{grpc_port}") as client, pytest.raises(AccessDeniedError):
            client.unload(model.name)
        # ... open to our CLI, which reads the key `up` wrote (owner-only) into the work dir.
        assert (work / "control.key").stat().st_mode & 0o077 == 0
        cli = [sys.executable, "-m", "modelserve", "models"]
        where = ["--url", f"127.0.0.1:{grpc_port}", "--work-dir", str(work)]
        for verb in ("unload", "load"):
            done = subprocess.run([*cli, verb, model.name, *where], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        unknown = subprocess.run([*cli, "unload", "nope", *where], env=env, capture_output=True, text=True)
        assert unknown.returncode == 1 and "no model 'nope' in the repository" in unknown.stderr
        _wait(lambda: _get(f"{api}/ready?models={model.name}") == 200, 60, "model reloaded")

        # Load through the API while tritonserver is killed.
        statuses: list[tuple[float, int]] = []
        stop = threading.Event()
        body = json.dumps(record).encode()

        def traffic() -> None:
            while not stop.is_set():
                code = _get(
                    f"{api}/v1/models/{model.name}/predict",
                    method="POST",
                    body=body,
                    headers={"content-type": "application/json"},
                )
                statuses.append((time.monotonic(), code))

        worker = threading.Thread(target=traffic)
        worker.start()
        _wait(lambda: any(c == 200 for _, c in statuses), 30, "first answer")
        pids = [p for p in tritonservers(repo)]
        assert len(pids) == 1
        killed_at = time.monotonic()
        os.kill(pids[0], signal.SIGKILL)
        try:
            _wait(
                lambda: any(t > killed_at + 0.5 and c == 200 for t, c in statuses),
                90,
                "answers after the kill",
            )
        finally:
            stop.set()
            worker.join(timeout=30)
        back = min(t for t, c in statuses if t > killed_at + 0.5 and c == 200) - killed_at
        failed = sorted({c for t, c in statuses if t > killed_at and c != 200})
        print(f"first 200 {back:.1f} s after kill -9; statuses meanwhile: {failed}")
        assert set(failed) <= {503, 504}  # the gap answers "unavailable", never a bare 500
        assert proc.poll() is None  # nobody touched `up`
        assert _members(pids[0]) == [] and len(tritonservers(repo)) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            for pid in tritonservers(repo):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux's setpriv is not installed")
def test_a_killed_serve_takes_its_tritonserver_with_it(tmp_path):
    # kill -9 of `modelserve serve` left tritonserver running, orphaned, holding ports and models.
    repo, http_port = _repo(tmp_path), free_port()
    argv = [sys.executable, "-m", "modelserve", "serve", "-r", str(repo), "--work-dir", str(tmp_path / "w")]
    argv += ["--http-port", str(http_port), "--grpc-port", "0", "--metrics-port", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    groups: list[int] = []
    try:
        _wait(lambda: _get(f"http://127.0.0.1:{http_port}/v2/health/ready") == 200, 60, "serving")
        groups = tritonservers(repo)  # tritonserver leads a process group with its stubs
        assert len(groups) == 1
        proc.kill()
        proc.wait(timeout=10)
        seconds = _wait(lambda: not tritonservers(repo), 60, "the orphaned tritonserver to stop")
        print(f"tritonserver stopped {seconds:.1f} s after its parent was killed")
        # A graceful stop: its models unloaded, so its backend stubs and shared memory went too.
        _wait(lambda: _members(groups[0]) == [], 30, "the stubs to stop")
        assert not list(Path("/dev/shm").glob(f"modelserve_{proc.pid}_*"))
    finally:
        proc.kill()
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
