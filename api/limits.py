"""Request body limit as a plain ASGI middleware: a declared Content-Length over the limit is refused
before anything is read; a body without one (chunked) is counted as it streams in, and the read
that crosses the limit is answered 413 here and the app sees the client disconnect."""

from __future__ import annotations

import json

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelserve.serving.errors import PayloadTooLargeError


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode() or "0"
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"body of {declared} bytes; the limit is {self.max_bytes}")
            return
        seen = 0
        refused = False

        async def counted() -> Message:
            # Past the limit: answer 413 ourselves, then tell the app the client went away.
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    await self._refuse(send, f"body over the limit of {self.max_bytes} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not refused:  # the app's own answer, if any, comes after ours: drop it
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except ClientDisconnect:
            if not refused:
                raise

    @staticmethod
    async def _refuse(send: Send, message: str) -> None:
        body = json.dumps({"error": {"code": PayloadTooLargeError.code, "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
