"""Map tritonclient's exceptions (HTTP and gRPC flavours) onto our error tree."""

from __future__ import annotations

import asyncio
import socket

from tritonclient.utils import InferenceServerException

from modelserve.client.errors import (
    AccessDeniedError,
    ClientError,
    InferenceServerError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
)

# CANCELLED from the server: a Triton shutting down cancels what it has in flight (our own
# deadlines arrive as DEADLINE_EXCEEDED or asyncio's TimeoutError, never as this status).
_UNAVAILABLE = ("StatusCode.UNAVAILABLE", "503", "StatusCode.CANCELLED")
_TIMEOUT = ("StatusCode.DEADLINE_EXCEEDED", "504", "408")
_NOT_FOUND = ("StatusCode.NOT_FOUND", "404")
_INVALID = ("StatusCode.INVALID_ARGUMENT", "400")
# gRPC's words when a port accepts the connection but does not speak HTTP/2: Triton's HTTP port
# closes it on gRPC's preface ("Socket closed"), other HTTP/1 servers answer something else.
_NOT_GRPC = ("socket closed", "failed parsing http/2", "http1.x server")


def translate(exc: BaseException, *, url: str, what: str) -> ClientError:
    """Return the ClientError for ``exc``; ``what`` says what was attempted (e.g. "infer resnet50")."""
    if isinstance(exc, ClientError):
        return exc
    if (
        isinstance(exc, TimeoutError | socket.timeout | asyncio.TimeoutError)
        or "timed out" in str(exc).lower()
    ):
        return InferenceTimeoutError(f"{what}: no answer from {url} within the timeout")
    if isinstance(exc, ConnectionError | OSError) and not isinstance(exc, InferenceServerException):
        return ServerUnavailableError(f"{what}: cannot reach Triton at {url} ({exc})")
    if isinstance(exc, InferenceServerException):
        status = str(exc.status() or "")
        message = str(exc.message() or exc)
        lowered = message.lower()
        full = f"{what}: {message}"
        if "is restricted, expecting header" in lowered or status == "403":
            # Triton answers a restricted gRPC protocol with UNAVAILABLE: not a server that is down.
            return AccessDeniedError(
                f"{what}: Triton restricts this API; pass its control key "
                "(--control-key or MODELSERVE_CONTROL_KEY)",
                status=status,
            )
        if status in _TIMEOUT or "deadline exceeded" in lowered:
            return InferenceTimeoutError(full, status=status)
        # Model-specific messages first: Triton sends some of them with an UNAVAILABLE status.
        if "is not found" in lowered or ("unknown model" in lowered and status in _NOT_FOUND):
            return ModelNotFoundError(full, status=status)
        if any(s in lowered for s in ("no available versions", "not at ready state", "not ready")):
            return ModelNotReadyError(full, status=status)
        if "failed to connect" in lowered and any(s in lowered for s in _NOT_GRPC):
            return ServerUnavailableError(
                f"{what}: no gRPC server at {url}: is this Triton's HTTP port? Triton's gRPC port "
                f"defaults to 8001, or use protocol http for this one ({message})",
                status=status,
            )
        if status in _UNAVAILABLE or "failed to connect" in lowered or "connection refused" in lowered:
            return ServerUnavailableError(f"{what}: cannot reach Triton at {url} ({message})", status=status)
        if status in _INVALID or status in _NOT_FOUND:
            return InvalidInputError(full, status=status)
        return InferenceServerError(full, status=status)
    return InferenceServerError(f"{what}: {type(exc).__name__}: {exc}")
