"""`modelserve infer` pointed at a port that answers but does not speak gRPC (Triton's HTTP port,
or any HTTP server) names the likely mistake instead of gRPC's bare "Socket closed"."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from modelserve.cli.app import app


def _closes_on_connect(server: socket.socket) -> None:
    """As Triton's HTTP server does with gRPC's preface: read it, close without an answer."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(1024)


@pytest.fixture(params=["closes-without-answer", "http-server"])
def http_port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "http-server":
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield httpd.server_address[1]
        httpd.shutdown()
        httpd.server_close()
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    threading.Thread(target=_closes_on_connect, args=(sock,), daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def test_infer_against_an_http_port_names_the_grpc_port(http_port: int) -> None:
    url = f"127.0.0.1:{http_port}"
    result = CliRunner().invoke(app, ["infer", "iris_rf", "-d", '{"features": [[1, 2, 3, 4]]}', "--url", url])
    assert result.exit_code == 1, result.output
    assert f"no gRPC server at {url}: is this Triton's HTTP port?" in result.output
    assert "gRPC port defaults to 8001" in result.output
    assert "Traceback" not in result.output


def test_a_closed_port_is_still_unreachable_not_the_wrong_protocol() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    result = CliRunner().invoke(app, ["infer", "iris_rf", "-d", "{}", "--url", f"127.0.0.1:{port}"])
    assert result.exit_code == 1 and "cannot reach Triton" in result.output
    assert "HTTP port" not in result.output
