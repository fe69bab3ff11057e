"""API errors carry their HTTP status; one handler renders ``{"error": {"code", "message"}}``.

ApiError
├── NotFoundError           404  unknown model
├── UnavailableError        503  Triton down or model not ready (with Retry-After)
├── GatewayTimeoutError     504  Triton did not answer in time
└── UnauthorizedError       401  missing or wrong API key
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from client import (
    ClientError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
)


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


def from_client_error(exc: ClientError) -> ApiError:
    if isinstance(exc, ModelNotFoundError):
        return NotFoundError(exc.message)
    if isinstance(exc, ServerUnavailableError | ModelNotReadyError):
        return UnavailableError(exc.message)
    if isinstance(exc, InferenceTimeoutError):
        return GatewayTimeoutError(exc.message)
    if isinstance(exc, InvalidInputError):
        return BadRequestError(exc.message)
    return ApiError(exc.message)


def install_handlers(app: FastAPI) -> None:
    async def render(_: Request, exc: Exception) -> JSONResponse:
        error = exc if isinstance(exc, ApiError) else from_client_error(exc)  # type: ignore[arg-type]
        return JSONResponse(
            {"error": {"code": error.code, "message": error.message}},
            status_code=error.status,
            headers=error.headers,
        )

    app.add_exception_handler(ApiError, render)
    app.add_exception_handler(ClientError, render)
