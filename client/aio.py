"""asyncio client over tritonclient's grpc.aio / http.aio: what the API uses so many requests can be
in flight at once and reach Triton's dynamic batcher together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpc_aio
import tritonclient.http as httpclient
import tritonclient.http.aio as http_aio
from tritonclient.grpc import model_config_pb2

from client._tensors import build_inputs, build_outputs, result_arrays
from client._translate import translate
from client.errors import ClientError, ServerUnavailableError
from client.sync import check_protocol, normalise_url
from client.types import ModelMetadata, ModelStatistics, RepositoryEntry, parse_config

T = TypeVar("T")


class AsyncTritonClient:
    """``async with AsyncTritonClient(url) as c: await c.infer(...)``. Create it inside the event loop."""

    def __init__(self, url: str, *, protocol: str = "grpc", timeout_s: float = 30.0) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.url = normalise_url(url)
        self.protocol = check_protocol(protocol)
        self.timeout_s = timeout_s
        self._module: ModuleType = grpcclient if self.protocol == "grpc" else httpclient
        try:
            if self.protocol == "grpc":
                self._client: Any = grpc_aio.InferenceServerClient(self.url)
            else:
                self._client = http_aio.InferenceServerClient(self.url, conn_timeout=timeout_s)
        except Exception as exc:
            raise translate(exc, url=self.url, what="connect") from exc

    async def _call(
        self, what: str, fn: Callable[..., Awaitable[T]], *args: Any, json: bool = False, **kw: Any
    ) -> T:
        if self.protocol == "grpc":
            kw["client_timeout"] = self.timeout_s
            if json:
                kw["as_json"] = True
        try:
            # http.aio has no per-call timeout; wait_for bounds both protocols the same way.
            return await asyncio.wait_for(fn(*args, **kw), timeout=self.timeout_s + 1.0)
        except Exception as exc:
            raise translate(exc, url=self.url, what=what) from exc

    async def is_server_ready(self) -> bool:
        try:
            return bool(await self._call("server ready", self._client.is_server_ready))
        except ServerUnavailableError:
            return False

    async def is_model_ready(self, model: str, version: str = "") -> bool:
        try:
            return bool(await self._call(f"model ready {model}", self._client.is_model_ready, model, version))
        except ServerUnavailableError:
            raise
        except ClientError:
            return False

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        *,
        outputs: Sequence[str] | None = None,
        version: str = "",
    ) -> dict[str, np.ndarray]:
        what = f"infer {model}" + (f" version {version}" if version else "")
        built = build_inputs(self._module, inputs)
        result = await self._call(
            what,
            self._client.infer,
            model,
            built,
            model_version=version,
            outputs=build_outputs(self._module, outputs),
        )
        return result_arrays(result, outputs)

    async def metadata(self, model: str, version: str = "") -> ModelMetadata:
        raw = await self._call(
            f"metadata {model}", self._client.get_model_metadata, model, version, json=True
        )
        return ModelMetadata.parse(raw)

    async def config(self, model: str, version: str = "") -> model_config_pb2.ModelConfig:
        raw = await self._call(f"config {model}", self._client.get_model_config, model, version, json=True)
        return parse_config(raw)

    async def statistics(self, model: str = "", version: str = "") -> list[ModelStatistics]:
        raw = await self._call(
            f"statistics {model}", self._client.get_inference_statistics, model, version, json=True
        )
        return [ModelStatistics.parse(s) for s in raw.get("model_stats", [])]

    async def repository_index(self) -> list[RepositoryEntry]:
        raw = await self._call("repository index", self._client.get_model_repository_index, json=True)
        entries = raw.get("models", []) if isinstance(raw, dict) else raw
        return [RepositoryEntry.parse(e) for e in entries]

    async def load(self, model: str, config: str | None = None) -> None:
        """``config``: a model config as JSON overriding config.pbtxt for this load (Triton's
        load API; e.g. a version policy)."""
        kw: dict[str, Any] = {"config": config} if config is not None else {}
        await self._call(f"load {model}", self._client.load_model, model, **kw)

    async def unload(self, model: str) -> None:
        await self._call(f"unload {model}", self._client.unload_model, model)

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> AsyncTritonClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
