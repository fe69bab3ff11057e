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
    """Return the ClientError for ``exc``; ``what`` says what was attempted (e.g. "infer resnet50").
    Its message is ``"<what>: <reason>"``; ``reason`` alone is kept for answers to people who did
    not make the call (the API's clients)."""
    if isinstance(exc, ClientError):
        return exc
    kind, reason, status = _classify(exc, url)
    return kind(f"{what}: {reason}", status=status, reason=reason)


def _classify(exc: BaseException, url: str) -> tuple[type[ClientError], str, str | None]:
    if (
        isinstance(exc, TimeoutError | socket.timeout | asyncio.TimeoutError)
        or "timed out" in str(exc).lower()
    ):
        return InferenceTimeoutError, f"no answer from {url} within the timeout", None
    if isinstance(exc, ConnectionError | OSError) and not isinstance(exc, InferenceServerException):
        return ServerUnavailableError, f"cannot reach Triton at {url} ({exc})", None
    if not isinstance(exc, InferenceServerException):
        return InferenceServerError, f"{type(exc).__name__}: {exc}", None
    status = str(exc.status() or "")
    message = str(exc.message() or exc)
    lowered = message.lower()
    if "is restricted, expecting header" in lowered or status == "403":
        # Triton answers a restricted gRPC protocol with UNAVAILABLE: not a server that is down.
        key = "Triton restricts this API; pass its control key (--control-key or MODELSERVE_CONTROL_KEY)"
        return AccessDeniedError, key, status
    if status in _TIMEOUT or "deadline exceeded" in lowered:
        return InferenceTimeoutError, message, status
    # Model-specific messages first: Triton sends some of them with an UNAVAILABLE status.
    if "is not found" in lowered or ("unknown model" in lowered and status in _NOT_FOUND):
        return ModelNotFoundError, message, status
    if any(s in lowered for s in ("no available versions", "not at ready state", "not ready")):
        return ModelNotReadyError, message, status
    if "failed to connect" in lowered and any(s in lowered for s in _NOT_GRPC):
        wrong_port = (
            f"no gRPC server at {url}: is this Triton's HTTP port? Triton's gRPC port defaults to "
            f"8001, or use protocol http for this one ({message})"
        )
        return ServerUnavailableError, wrong_port, status
    if status in _UNAVAILABLE or "failed to connect" in lowered or "connection refused" in lowered:
        return ServerUnavailableError, f"cannot reach Triton at {url} ({message})", status
    if status in _INVALID or status in _NOT_FOUND:
        return InvalidInputError, message, status
    return InferenceServerError, message, status
