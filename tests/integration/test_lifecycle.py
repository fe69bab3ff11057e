"""Start, stop and failure behaviour of the server and the client."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from modelserve.cli.app import app
from modelserve.client import AsyncTritonClient, InferenceTimeoutError, ServerUnavailableError, TritonClient
from modelserve.serve.ports import free_port
from modelserve.serve.server import EmbeddedTriton
from modelserve.serve.settings import ServerSettings
from tests.helpers import file_digests, processes, save, scale_model, tritonservers

pytestmark = pytest.mark.integration


def _session_members(sid: int) -> list[int]:
    return [p.pid for p in processes() if p.session == sid]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_client_raises_server_unavailable_when_nothing_listens(protocol):
    with TritonClient(f"127.0.0.1:{free_port()}", protocol=protocol, timeout_s=3) as client:
        assert client.is_server_ready() is False
        with pytest.raises(ServerUnavailableError, match="cannot reach Triton"):
            client.infer("m", {"x": np.ones((1, 4), dtype=np.float32)})


def test_async_client_raises_server_unavailable_when_nothing_listens():
    async def main() -> None:
        async with AsyncTritonClient(f"127.0.0.1:{free_port()}", timeout_s=3) as client:
            with pytest.raises(ServerUnavailableError):
                await client.infer("m", {"x": np.ones((1, 4), dtype=np.float32)})

    asyncio.run(main())


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: a hung server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_client_gives_up_on_a_hung_server_with_a_typed_error(silent_server, protocol):
    with (
        TritonClient(
            f"127.0.0.1:{silent_server}", protocol=protocol, timeout_s=1, connect_timeout_s=1
        ) as client,
        pytest.raises((InferenceTimeoutError, ServerUnavailableError)),
    ):
        client.infer("m", {"x": np.ones((1, 4), dtype=np.float32)})


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_the_api_in_front_of_a_hung_server_is_not_ready_and_times_out_once(silent_server, protocol, tmp_path):
    """Readiness says 503 (not a 504 after the full timeout); a request gets one 504."""
    from fastapi.testclient import TestClient

    from modelserve.api.app import create_app
    from modelserve.serving.settings import ApiSettings

    settings = ApiSettings(
        triton_url=f"127.0.0.1:{silent_server}",
        triton_protocol=protocol,
        repository=tmp_path,
        request_timeout_s=2,
        monitoring=False,
    )
    with TestClient(create_app(settings)) as api:
        ready = api.get("/ready")
        predict = api.post("/v1/models/m/predict", json={"a": 1})
    assert ready.status_code == 503 and "not ready" in ready.json()["error"]["message"]
    assert predict.status_code in (503, 504), predict.text


def _scale_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    save(scale_model(2.0), repo / "scale" / "1" / "model.onnx")
    (repo / "scale" / "config.pbtxt").write_text(
        'backend: "onnxruntime" max_batch_size: 4 '
        'input [{name: "x" data_type: TYPE_FP32 dims: [4]}] '
        'output [{name: "y" data_type: TYPE_FP32 dims: [4]}]'
    )
    return repo


def test_shutdown_leaves_no_process_and_no_shm_file(tmp_path):
    repo = _scale_repo(tmp_path)
    settings = ServerSettings(
        lock_control_plane=False,  # tests drive model control; test_supervision covers the lock
        repository=repo,
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        work_dir=tmp_path / "w",
    )
    server = EmbeddedTriton(settings)
    server.start()
    pid = server.pid
    assert pid is not None
    with TritonClient(server.endpoints.grpc_url) as client:
        client.infer("scale", {"x": np.ones((1, 4), dtype=np.float32)})
    assert len(_session_members(pid)) >= 2  # the server and its backend stub
    assert server.leftover_shm_files(), "the Python backend should be using shared memory while up"
    server.stop()
    assert _session_members(pid) == []
    assert server.leftover_shm_files() == []
    assert server.shm_left_by_server == 0, "the server itself should clean its shm on a graceful stop"


def _demo(tmp_path: Path, *ports: str) -> Any:
    argv = ["demo", "-r", str(tmp_path / "repo"), "--work-dir", str(tmp_path / "w")]
    argv += ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", *ports]  # later flags win
    return CliRunner().invoke(app, argv)


def test_demo_command_exports_serves_and_answers_and_a_second_run_rewrites_nothing(tmp_path):
    result = _demo(tmp_path)
    assert result.exit_code == 0, result.output
    assert "iris_rf            grpc" in result.output and "iris_rf            http" in result.output
    assert "exported iris_rf v1" in result.output
    assert (tmp_path / "repo" / "iris_rf" / "1" / "model.onnx").is_file()
    before = file_digests(tmp_path / "repo")
    again = _demo(tmp_path)  # `make demo` twice
    assert again.exit_code == 0, again.output
    assert "unchanged iris_rf v1" in again.output and "unchanged breast_cancer_lr v1" in again.output
    assert "iris_rf            grpc" in again.output
    assert file_digests(tmp_path / "repo") == before


@pytest.mark.parametrize("holding", ["nothing", "the demo models"])
@pytest.mark.parametrize(
    ("flag", "what"), [("--http-port", "HTTP"), ("--grpc-port", "gRPC"), ("--metrics-port", "metrics")]
)
def test_demo_refuses_a_taken_port_before_it_writes_anything(tmp_path, holding, flag, what):
    """`modelserve demo` beside a running `modelserve up` once rewrote the served demo models, then
    found its ports taken: every port is checked before the export."""
    from modelserve.families.tabular.demo import export_demo_set

    if holding == "the demo models":
        export_demo_set(tmp_path / "repo")
    before = file_digests(tmp_path / "repo")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)  # as a running server holds it
        port = taken.getsockname()[1]
        result = _demo(tmp_path, flag, str(port))
    assert result.exit_code == 1, result.output
    assert f"error: {what} port {port} on 127.0.0.1 is already in use" in result.output
    assert "exported" not in result.output
    assert file_digests(tmp_path / "repo") == before
    assert (tmp_path / "repo").exists() == (holding == "the demo models")


def test_demo_refuses_a_repository_path_it_cannot_write_before_exporting(tmp_path):
    (tmp_path / "repo").write_text("not a directory\n")
    result = _demo(tmp_path)
    assert result.exit_code == 1
    assert f"model repository {tmp_path / 'repo'}: {tmp_path / 'repo'} is a file" in result.output
    assert (tmp_path / "repo").read_text() == "not a directory\n"


def test_serve_refuses_a_taken_port_with_a_one_line_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        (tmp_path / "repo").mkdir()
        result = CliRunner().invoke(app, ["serve", "-r", str(tmp_path / "repo"), "--http-port", str(port)])
    assert result.exit_code == 1
    assert f"HTTP port {port}" in result.output


def test_up_stopped_by_sigterm_stops_triton_too(tmp_path):
    """uvicorn re-raises SIGTERM after its graceful shutdown; `up` must still stop the server it
    started (it once left tritonserver running)."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    repo = _scale_repo(tmp_path)
    api_port = free_port()
    argv = [sys.executable, "-m", "modelserve", "up", "-r", str(repo), "--work-dir", str(tmp_path / "w")]
    argv += ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--api-port", str(api_port)]
    env = {**os.environ, "MODELSERVE_MONITORING_URL": f"sqlite:///{tmp_path}/m.sqlite"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()  # type: ignore[union-attr]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        assert len(tritonservers(repo)) == 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert tritonservers(repo) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in tritonservers(repo):
            os.kill(pid, signal.SIGKILL)
