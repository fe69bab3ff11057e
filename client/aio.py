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

from modelserve.client._core import Call, ClientCore, Rotation
from modelserve.client.errors import ServerUnavailableError
from modelserve.client.targets import parse_targets
from modelserve.client.types import ModelMetadata, ModelStatistics, RepositoryEntry

T = TypeVar("T")


class AsyncTritonClient:
    """``async with AsyncTritonClient(url) as c: await c.infer(...)``. Create it inside the event loop."""

    def __init__(
        self, url: str, *, protocol: str = "grpc", timeout_s: float = 30.0, control_key: str | None = None
    ) -> None:
        """``control_key``: the server's control-plane key (load, unload, repository index)."""
        self._core = ClientCore(url, protocol, timeout_s, control_key)
        self.url, self.protocol, self.timeout_s = self._core.url, self._core.protocol, timeout_s
        targets = self._core.targets
        try:
            if self.protocol == "grpc":
                self._clients: list[Any] = [
                    grpc_aio.InferenceServerClient(target, channel_args=self._core.channel_args)
                    for target in self._core.grpc_targets
                ]
            else:
                self._clients = [
                    http_aio.InferenceServerClient(address, conn_timeout=timeout_s)
                    for address in targets.addresses
                ]
        except Exception as exc:
            raise self._core.connect_error(exc) from exc
        self._rotation = Rotation(len(self._clients))
        self._probes: dict[str, AsyncTritonClient] = {}  # one per replica, for replica_status

    @property
    def balanced(self) -> bool:
        """The URL names several replicas (a list, or a dns:/// name)."""
        return self._core.targets.balanced

    async def _run(self, call: Call[T]) -> T:
        self._core.check_fleet(call)
        order = self._rotation.order()
        for attempt in range(1 + self._core.retries(call)):
            index = order[attempt % len(order)]
            client = self._clients[index]
            try:
                # http.aio has no per-call timeout; wait_for bounds both protocols the same way.
                raw = await asyncio.wait_for(
                    getattr(client, call.method)(*call.args, **self._core.kwargs(call)),
                    timeout=self._core.timeout(call) + 1.0,
                )
            except Exception as exc:
                error = self._core.translated(call, exc)
                if isinstance(error, ServerUnavailableError):
                    self._rotation.down(index)
                if self._core.retryable(call, error, attempt):
                    continue  # that replica went away: once more, on another
                return self._core.failed(call, error, exc)
            return call.parse(raw)
        raise AssertionError("unreachable")

    async def replica_status(self, timeout_s: float = 0.8) -> dict[str, bool]:
        """Whether each replica answers ready, by address (a dns:/// name resolved now)."""
        targets = parse_targets(self._core.targets.url)
        for address in targets.addresses:
            if address not in self._probes:
                self._probes[address] = AsyncTritonClient(
                    address, protocol=self.protocol, timeout_s=timeout_s
                )
        answers = await asyncio.gather(
            *(self._probes[a].is_server_ready(timeout_s=timeout_s) for a in targets.addresses)
        )
        return dict(zip(targets.addresses, answers, strict=True))

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
        for client in [*self._clients, *self._probes.values()]:
            await client.close()

    async def __aenter__(self) -> AsyncTritonClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
