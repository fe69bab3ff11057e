"""asyncio client over tritonclient's grpc.aio / http.aio: what the API uses so many requests can be
in flight at once and reach Triton's dynamic batcher together."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc.aio as grpc_aio
import tritonclient.http.aio as http_aio
from tritonclient.grpc import model_config_pb2

from client._core import GRPC_CHANNEL_ARGS, Call, ClientCore
from client.types import ModelMetadata, ModelStatistics, RepositoryEntry

T = TypeVar("T")


class AsyncTritonClient:
    """``async with AsyncTritonClient(url) as c: await c.infer(...)``. Create it inside the event loop."""

    def __init__(
        self, url: str, *, protocol: str = "grpc", timeout_s: float = 30.0, control_key: str | None = None
    ) -> None:
        """``control_key``: the server's control-plane key (load, unload, repository index)."""
        self._core = ClientCore(url, protocol, timeout_s, control_key)
        self.url, self.protocol, self.timeout_s = self._core.url, self._core.protocol, timeout_s
        try:
            if self.protocol == "grpc":
                self._client: Any = grpc_aio.InferenceServerClient(self.url, channel_args=GRPC_CHANNEL_ARGS)
            else:
                self._client = http_aio.InferenceServerClient(self.url, conn_timeout=timeout_s)
        except Exception as exc:
            raise self._core.connect_error(exc) from exc

    async def _run(self, call: Call[T]) -> T:
        try:
            # http.aio has no per-call timeout; wait_for bounds both protocols the same way.
            raw = await asyncio.wait_for(
                getattr(self._client, call.method)(*call.args, **self._core.kwargs(call)),
                timeout=self._core.timeout(call) + 1.0,
            )
        except Exception as exc:
            return self._core.failed(call, exc)
        return call.parse(raw)

    async def is_server_live(self) -> bool:
        return await self._run(self._core.server_live())

    async def is_server_ready(self, timeout_s: float | None = None) -> bool:
        return await self._run(self._core.server_ready(timeout_s))

    async def is_model_ready(self, model: str, version: str = "", timeout_s: float | None = None) -> bool:
        return await self._run(self._core.model_ready(model, version, timeout_s))

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        *,
        outputs: Sequence[str] | None = None,
        version: str = "",
    ) -> dict[str, np.ndarray]:
        return await self._run(self._core.infer(model, inputs, outputs, version))

    async def metadata(self, model: str, version: str = "") -> ModelMetadata:
        return await self._run(self._core.metadata(model, version))

    async def config(self, model: str, version: str = "") -> model_config_pb2.ModelConfig:
        return await self._run(self._core.config(model, version))

    async def statistics(self, model: str = "", version: str = "") -> list[ModelStatistics]:
        return await self._run(self._core.statistics(model, version))

    async def repository_index(self) -> list[RepositoryEntry]:
        return await self._run(self._core.repository_index())

    async def load(self, model: str, config: str | None = None) -> None:
        """``config``: a model config as JSON overriding config.pbtxt for this load."""
        await self._run(self._core.load(model, config))

    async def unload(self, model: str) -> None:
        await self._run(self._core.unload(model))

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> AsyncTritonClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
