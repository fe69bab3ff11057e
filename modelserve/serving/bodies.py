"""JSON bodies come with ``Content-Type: application/json`` (or another ``application/*+json``).

FastAPI parses a body as JSON only when the request says it is JSON (its strict content type,
on by default), and handed the routes the raw bytes otherwise: "body must be a record" for a
record sent without the header. We keep FastAPI's rule rather than guess: a browser sends a body
without a Content-Type, or as text/plain, to any origin without a CORS preflight, so parsing those
would let any web page post predictions and feedback to an API on localhost. The request is
answered with a 415 that says what to send instead.
"""

from __future__ import annotations

from fastapi import params
from starlette.requests import HTTPConnection, Request

from modelserve.serving.errors import UnsupportedMediaError


def is_json(content_type: str | None) -> bool:
    """FastAPI's test: ``application/json`` or ``application/<anything>+json``, any parameters."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_json_content_type(content_type: str | None) -> None:
    if not is_json(content_type):
        got = f"Content-Type '{content_type}'" if content_type else "no Content-Type"
        raise UnsupportedMediaError(f"send Content-Type: application/json with a JSON body (got {got})")


async def json_body_type(connection: HTTPConnection) -> None:
    """An app-wide dependency: on a route that takes a JSON body, a body that does not say it is
    JSON is a 415. Routes without a body (or with a form, or reading raw image bytes) pass, and so
    does an empty body: the route then says what it needs."""
    route = connection.scope.get("route")
    body_field = getattr(route, "body_field", None)
    if not isinstance(connection, Request) or body_field is None:
        return
    if isinstance(body_field.field_info, params.Form) or not await connection.body():
        return
    check_json_content_type(connection.headers.get("content-type"))
