"""Errors of the client. Every tritonclient exception is wrapped (``raise ... from e``).

ClientError
├── ServerUnavailableError   nothing answers at the URL, or the server is shutting down
├── InferenceTimeoutError    no answer within the client's timeout
├── ModelNotFoundError       the server does not know the model (or that version)
├── ModelNotReadyError       the model exists but is not loaded / not ready
├── InvalidInputError        the request was refused for its inputs (names, shapes, types)
├── AccessDeniedError        a restricted API (model control, shared memory) without the right key
└── InferenceServerError     any other server-side failure (message kept)
"""

from __future__ import annotations


class ClientError(Exception):
    """Root of the client's errors. ``status`` keeps the transport's status text when there is one;
    ``reason`` what went wrong without the call it happened to ("metadata m: "), for messages to
    people who never made that call (the API's clients)."""

    def __init__(self, message: str, *, status: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = message if reason is None else reason


class ServerUnavailableError(ClientError):
    """The server cannot be reached."""


class InferenceTimeoutError(ClientError):
    """The call did not finish within its timeout."""


class ModelNotFoundError(ClientError):
    """Unknown model or version."""


class ModelNotReadyError(ClientError):
    """The model is known but not ready to serve."""


class InvalidInputError(ClientError):
    """The server rejected the inputs."""


class AccessDeniedError(ClientError):
    """The server restricts this API (its control plane) and the call lacked the right key."""


class InferenceServerError(ClientError):
    """Any other error reported by the server."""
