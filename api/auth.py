"""The API key, checked before anything reads the request: a request without it is answered 401
from its headers alone (a 7.6 MiB body used to be read and parsed first).

Public without a key: liveness (``/health``), readiness without a model list (``/ready``: probes
carry no secrets) and the API's own documentation. Everything that names models or shows traffic
(``/v1/...``, ``/metrics``, ``/ready?models=``, ``/ws/metrics``) needs the key. WebSocket clients
that cannot set headers (browsers) may pass ``?api_key=``; access logs redact it (``redact``).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC = frozenset({"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
# A query string in a log line: after "?", up to a space or a quote.
_QUERY = re.compile(r"\?([^\s\"']*)")
# A parameter whose name, decoded and lowercased, says it holds a secret (api%5Fkey, API_KEY...).
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|credential")


def valid(given: bytes, expected: bytes) -> bool:
    # Bytes, not str: hmac refuses non-ASCII str (a header with "ü" was a bare 500).
    return bool(given) and hmac.compare_digest(given, expected)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app = app
        self.key = key.encode() if key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] not in ("http", "websocket") or self._public(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-api-key", b"")
        if not given and scope["type"] == "websocket":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("api_key", [""])[0].encode("latin-1", "replace")
        if valid(given, self.key):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "missing or wrong API key"})
            return
        body = json.dumps(
            {"error": {"code": "unauthorized", "message": "missing or wrong X-API-Key header"}}
        ).encode()
        headers_out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 401, "headers": headers_out})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _public(scope: Scope) -> bool:
        path = scope.get("path", "")
        if path not in PUBLIC or scope["type"] != "http":
            return False
        return not (path == "/ready" and b"models=" in scope.get("query_string", b""))


def document_key(app: FastAPI) -> None:
    """The key in the OpenAPI schema (/docs): every operation but the public ones requires it.
    Documented here rather than as a route dependency: the middleware has checked already, and
    a dependency per request cost ~8% of the tabular route's CPU (measured)."""

    build = app.openapi  # FastAPI's own: builds the schema once and keeps it in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["APIKeyHeader"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            for path, operations in schema.get("paths", {}).items():
                if path in PUBLIC:
                    continue
                for operation in operations.values():
                    operation["security"] = [{"APIKeyHeader": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def redact_query(text: str) -> str:
    """``text`` with the value of every secret-named query parameter blanked, whatever the name's
    spelling or encoding (``?api%5Fkey=``, ``?API_KEY=``): a log line never holds a key."""

    def blank(match: re.Match[str]) -> str:
        parts = []
        for part in re.split(r"([&;])", match.group(1)):
            name, sep, _ = part.partition("=")
            secret = sep and _SECRET_NAME.search(unquote_plus(name).lower().replace("-", "_"))
            parts.append(f"{name}=***" if secret else part)
        return "?" + "".join(parts)

    return _QUERY.sub(blank, text) if "?" in text else text


class RedactSecrets(logging.Filter):
    """Blanks secret query parameters in log records (uvicorn's access log prints query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def redact(logger_names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
