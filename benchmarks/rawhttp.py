"""A minimal keep-alive HTTP/1.1 client for load generation.

Why not httpx: on a 2-core box its per-request cost (~0.3 ms of Python) caps a load generator near
2-3k req/s, so a fast server would be measured as the client's limit. Requests here are serialised
once up front and a connection is one pair of asyncio streams; the per-request work is a write, a
status line, the headers and a fixed-length body.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit


class HttpProtocolError(Exception):
    """The server's answer was not HTTP/1.1 this client can read."""


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


def build_request(url: str, method: str, body: bytes = b"", content_type: str = "") -> bytes:
    """The bytes of one request to ``url`` (absolute), sent as-is every time."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http://host:port URLs are supported, got {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    async def send(self, raw: bytes) -> Response:
        reader, writer = await self._connect()
        try:
            writer.write(raw)
            response = await _read_response(reader)
        except BaseException:
            # A half-read answer leaves the stream unusable: start clean next time.
            await self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            await self.close()
        return response

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> Response:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("server closed the connection before answering")
    try:
        status = int(status_line.split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise HttpProtocolError(f"bad status line {status_line[:80]!r}") from exc
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        raise HttpProtocolError("response has neither Content-Length nor chunked encoding")
    return Response(status=status, headers=headers, body=body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readline()  # the blank line after the last chunk (no trailers expected)
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readline()


def server_timing(header: str) -> dict[str, float]:
    """``Server-Timing: triton;dur=1.2, api;dur=0.4`` -> {"triton": 1.2, "api": 0.4} (ms)."""
    out: dict[str, float] = {}
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "dur":
                with contextlib.suppress(ValueError):
                    out[name.strip()] = float(value)
    return out
