"""HTTP/1.1 connections with bounds: header size and count, header and body read deadlines.

uvicorn's httptools protocol reads headers without a size limit (llhttp buffers a header value
whole: 50 connections × 20 MB grew the API by 1 GB) and without a deadline (slowloris). This
subclass counts header bytes as they arrive, before the parser buffers them, and answers 431 past
``max_header_bytes`` or ``max_headers``; a request whose headers take longer than
``header_timeout_s`` gets 408, one whose body takes longer than ``body_timeout_s`` too. All of this
happens before the application, so before the API key is looked at. Idle keep-alive and the
shutdown deadline are uvicorn's own settings (``timeout_keep_alive``, ``timeout_graceful_shutdown``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from modelserve.serving.settings import ApiSettings

logger = logging.getLogger(__name__)

_END = b"\r\n\r\n"


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float

    @classmethod
    def of(cls, settings: ApiSettings) -> ConnectionLimits:
        return cls(
            settings.max_header_bytes,
            settings.max_headers,
            settings.header_timeout_s,
            settings.body_timeout_s,
        )


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """The ``uvicorn.Config`` keywords that bound connections (a partial pickles to workers)."""
    return {
        "http": functools.partial(BoundedHttp, limits=ConnectionLimits.of(settings)),
        "timeout_keep_alive": settings.keepalive_s,
        "timeout_graceful_shutdown": settings.shutdown_timeout_s,
    }


class _TooManyHeaders(Exception):
    pass


class BoundedHttp(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._in_headers = True
        self._header_bytes = self._header_count = 0
        self._tail = b""  # the last bytes seen, for an end of headers split across reads
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            seen = self._tail + data
            end = seen.find(_END)
            self._header_bytes += len(data) if end < 0 else end + len(_END) - len(self._tail)
            self._tail = seen[-(len(_END) - 1) :]
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse(431, f"request headers exceed {self.limits.max_header_bytes} bytes")
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self._header_count > self.limits.max_headers:  # the parser stopped at on_header
            self._refuse(431, f"more than {self.limits.max_headers} request headers")
        else:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_headers:  # the next request on a kept-alive connection
            self._expect_headers()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _TooManyHeaders  # parsing stops; uvicorn calls send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self._arm(self.limits.body_timeout_s, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol has its own pings and timeouts
        super().handle_websocket_upgrade()

    def _expect_headers(self) -> None:
        self._in_headers = True
        self._header_bytes = self._header_count = 0
        self._tail = b""
        self._arm(self.limits.header_timeout_s, "headers")

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self._in_headers and not self._header_bytes and self.cycle is None:
            self.transport.close()  # a connection that never sent a byte: no one to answer
            return
        self._refuse(408, f"request {what} not received within {seconds:g} s")

    def _refuse(self, status: int, message: str) -> None:
        """Answer and close, unless the application has started its own answer."""
        self._disarm()
        if self.transport.is_closing():
            return
        client = "{}:{}".format(*self.client) if self.client else "a client"
        logger.warning("%s: %d, %s", client, status, message)
        if self.cycle is None or not self.cycle.response_started:
            body = json.dumps({"detail": message}).encode()
            head = b"content-type: application/json\r\nconnection: close\r\n"
            head += b"content-length: %d\r\n\r\n" % len(body)
            self.transport.write(STATUS_LINE[status] + head + body)
            if self.cycle is not None:  # the application hears its client left; its answer goes nowhere
                self.cycle.disconnected = True
                self.cycle.message_event.set()
        self.transport.close()
