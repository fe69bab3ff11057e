"""API errors carry their HTTP status; one handler renders ``{"error": {"code", "message"}}``.

ApiError (500)
├── BadRequestError         400  Triton refused the tensors; empty or corrupt image
├── UnauthorizedError       401  missing or wrong API key
├── NotFoundError           404  unknown model, or not the kind the route serves
├── PayloadTooLargeError    413  body, image, pixel or record count over the limit
├── UnsupportedMediaError   415  not an image in a supported format; JSON without a JSON Content-Type
├── UnprocessableError      422  a field is missing, unknown or of the wrong type
├── UnavailableError        503  Triton down, model not ready, monitoring store down (with Retry-After)
└── GatewayTimeoutError     504  Triton did not answer in time
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelserve.client import (
    ClientError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
)
from modelserve.monitor.errors import StoreError


class ApiError(Exception):
    status = 500
    code = "internal_error"
    headers: dict[str, str] = {}  # noqa: RUF012 - per-class constant

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ApiError):
    status, code = 404, "not_found"


class UnavailableError(ApiError):
    status, code = 503, "unavailable"
    headers = {"Retry-After": "1"}  # noqa: RUF012


class GatewayTimeoutError(ApiError):
    status, code = 504, "timeout"


class BadRequestError(ApiError):
    status, code = 400, "bad_request"


class UnauthorizedError(ApiError):
    status, code = 401, "unauthorized"


class PayloadTooLargeError(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaError(ApiError):
    status, code = 415, "unsupported_media_type"


class UnprocessableError(ApiError):
    status, code = 422, "invalid_input"


class ErrorDetail(BaseModel):
    code: str  # e.g. invalid_input, not_found, unavailable
    message: str  # what was wrong, naming the field, model or limit


class ErrorResponse(BaseModel):
    error: ErrorDetail


_STATUSES = {
    400: "Triton refused the tensors; an empty or corrupt image",
    401: "missing or wrong X-API-Key header",
    404: "unknown model, or a model of another kind than the route serves",
    413: "body, image, pixel, record or text size over its limit",
    415: "not an image in a supported format; a JSON body without Content-Type: application/json",
    422: "a field missing, unknown, of the wrong type or out of range; malformed JSON",
    503: "Triton down or restarting, model not loaded or not ready, monitoring store down",
    504: "Triton did not answer in time",
}
# Every route may answer these, in one shape: the OpenAPI schema says so (not only 200 and 422).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in _STATUSES.items()
}


def from_client_error(exc: ClientError) -> ApiError:
    if isinstance(exc, ModelNotFoundError):  # Triton's words, not our call's name ("metadata m: ...")
        return NotFoundError(f"not served: {exc.reason}")
    if isinstance(exc, ServerUnavailableError | ModelNotReadyError):
        return UnavailableError(exc.message)
    if isinstance(exc, InferenceTimeoutError):
        return GatewayTimeoutError(exc.message)
    if isinstance(exc, InvalidInputError):
        return BadRequestError(exc.message)
    return ApiError(exc.message)


def _json_error(error: dict[str, Any], body: Any) -> str:
    """'body is not valid JSON: Expecting value at line 2, column 5' (FastAPI's own: '26: JSON
    decode error')."""
    reason = str((error.get("ctx") or {}).get("error") or "invalid JSON")
    loc = error.get("loc") or ()
    position = loc[-1] if loc and isinstance(loc[-1], int) else None
    if position is None:
        return f"body is not valid JSON: {reason}"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    before = text[:position]
    line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
    return f"body is not valid JSON: {reason} at line {line}, column {column}"


class AsciiJSONResponse(JSONResponse):
    """Our error shape, ASCII-escaped: a message may quote the request's own text, and a lone
    surrogate there (valid JSON, not valid UTF-8) made the UTF-8 encoder fail into a bare 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def error_response(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    content = {"error": {"code": code, "message": message}}
    return AsciiJSONResponse(content, status_code=status, headers=headers)


FASTAPI_PARSE_FAILURE = "There was an error parsing the body"


def _parse_failure(cause: BaseException | None) -> str:
    """FastAPI's one message for every body it could not parse, made specific."""
    if isinstance(cause, UnicodeDecodeError):
        return f"body is not valid UTF-8 (byte {cause.start})"
    if isinstance(cause, RecursionError):
        return "body is not valid JSON: nested too deeply"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "body is not valid JSON: a number has more than 4300 digits"
    return "body could not be parsed" + (f": {type(cause).__name__}" if cause is not None else "")


def install_handlers(app: FastAPI) -> None:
    async def render(request: Request, exc: Exception) -> JSONResponse:
        error: ApiError
        if isinstance(exc, ApiError):
            error = exc
        elif isinstance(exc, StoreError):
            error = UnavailableError(str(exc))
        else:
            error = from_client_error(exc)  # type: ignore[arg-type]
        metrics = getattr(request.app.state, "metrics", None)
        if isinstance(exc, ClientError) and metrics is not None:
            metrics.triton_errors.labels(type(exc).__name__).inc()
        return error_response(error.code, error.message, error.status, error.headers)

    async def render_validation(_: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own body validation: name the first bad field, in our error shape.
        errors: list[dict[str, Any]] = list(getattr(exc, "errors", list)())
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            message = _json_error(first, getattr(exc, "body", None))
        else:
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
            message = f"{where}: {first.get('msg', 'invalid request')}"
        return error_response("invalid_input", message, 422)

    async def render_http(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's own 404/405 (no such route, wrong method), in our error shape.
        status = int(getattr(exc, "status_code", 500))
        detail = str(getattr(exc, "detail", "")) or "error"
        if status == 400 and detail == FASTAPI_PARSE_FAILURE:  # say what was wrong with the body
            return error_response("invalid_input", _parse_failure(exc.__cause__), 422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        return error_response(code, detail, status, getattr(exc, "headers", None))

    app.add_exception_handler(ApiError, render)
    app.add_exception_handler(StarletteHTTPException, render_http)
    app.add_exception_handler(ClientError, render)
    app.add_exception_handler(StoreError, render)
    app.add_exception_handler(RequestValidationError, render_validation)
