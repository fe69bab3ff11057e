"""A small typed client over tritonclient: HTTP and gRPC, sync and asyncio, numpy in and out."""

from client.aio import AsyncTritonClient
from client.errors import (
    ClientError,
    InferenceServerError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
)
from client.sync import TritonClient
from client.types import ModelMetadata, ModelStatistics, RepositoryEntry, TensorMetadata

__all__ = [
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
