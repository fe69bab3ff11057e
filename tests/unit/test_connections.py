"""Connection bounds on a real uvicorn server (httptools, the API's own protocol class): header
size and count, header and body deadlines, kept-alive connections. No timing assertions: each
read has a generous timeout that only turns a hang into a failure."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from modelserve.ops.connections import uvicorn_options
from modelserve.serve.ports import free_port
from modelserve.serving.settings import ApiSettings

LIMITS = ApiSettings(
    max_header_bytes=4096, max_headers=20, header_timeout_s=0.5, body_timeout_s=0.5, keepalive_s=5
)


async def echo(scope, receive, send):  # type: ignore[no-untyped-def]
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = b"got %d" % len(body)
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(echo, host="127.0.0.1", port=port, log_level="error", **uvicorn_options(LIMITS))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_plain_request_and_a_kept_alive_second_one_are_answered(port: int) -> None:
    with _connect(port) as sock:
        for _ in range(2):
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"got 3")


def test_headers_past_the_byte_limit_get_431_before_they_are_all_sent(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent, reply = 0, b""
        # 20 MB of one header value, 64 KiB at a time; the answer comes long before the end.
        while sent < 20 * 1024 * 1024:
            try:
                sock.sendall(b"a" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 65536
            sock.settimeout(0.001)
            try:
                reply = sock.recv(65536)
            except TimeoutError:
                continue
            finally:
                sock.settimeout(10)
            if reply:
                break
        assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
        assert b"request headers exceed 4096 bytes" in reply
        assert sent < 1024 * 1024  # refused early: the server never held the 20 MB


def test_too_many_headers_get_431(port: int) -> None:
    with _connect(port) as sock:
        headers = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        reply = _answer(sock)
    assert reply.startswith(b"HTTP/1.1 431") and b"more than 20 request headers" in reply


def test_headers_sent_too_slowly_get_408_and_the_connection_closes(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        reply = _answer(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"request headers not received within 0.5 s" in reply


def test_a_body_sent_too_slowly_gets_408_and_the_connection_closes(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        reply = _answer(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"request body not received within 0.5 s" in reply


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with _connect(port) as sock:
        assert _answer(sock) == b""  # closed without a word: there was no request to answer


def test_the_limits_are_settings_with_defaults() -> None:
    options = uvicorn_options(ApiSettings())
    limits = options["http"].keywords["limits"]
    assert (limits.max_header_bytes, limits.max_headers) == (32 * 1024, 100)
    assert (limits.header_timeout_s, limits.body_timeout_s) == (10.0, 60.0)
    assert (options["timeout_keep_alive"], options["timeout_graceful_shutdown"]) == (5, 15)
