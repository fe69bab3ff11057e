"""A small typed client over tritonclient: HTTP and gRPC, sync and asyncio, numpy in and out."""

from typing import TYPE_CHECKING, Any

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
from modelserve.client.sync import TritonClient
from modelserve.client.types import ModelMetadata, ModelStatistics, RepositoryEntry, TensorMetadata

if TYPE_CHECKING:
    from modelserve.client.aio import AsyncTritonClient


def __getattr__(name: str) -> Any:
    # The asyncio client pulls in aiohttp (~0.45 s): only code that uses it pays for the import.
    if name == "AsyncTritonClient":
        from modelserve.client.aio import AsyncTritonClient

        return AsyncTritonClient
    raise AttributeError(f"module 'client' has no attribute {name!r}")


__all__ = [
    "AccessDeniedError",
    "AsyncTritonClient",
    "ClientError",
    "InferenceServerError",
    "InferenceTimeoutError",
    "InvalidInputError",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelNotReadyError",
    "ModelStatistics",
    "RepositoryEntry",
    "ServerUnavailableError",
    "TensorMetadata",
    "TritonClient",
]
