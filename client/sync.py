"""Blocking client over tritonclient HTTP or gRPC, numpy in and out, our typed errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import ModuleType, TracebackType
from typing import Any, Literal, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import model_config_pb2

from client._tensors import build_inputs, build_outputs, result_arrays
from client._translate import translate
from client.errors import ClientError, ServerUnavailableError
from client.types import ModelMetadata, ModelStatistics, RepositoryEntry, parse_config

Protocol = Literal["grpc", "http"]
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """tritonclient wants ``host:port``; accept ``http://host:port/`` too."""
    for scheme in ("http://", "https://", "grpc://"):
        if url.startswith(scheme):
            url = url[len(scheme) :]
    return url.rstrip("/")


def check_protocol(protocol: str) -> Protocol:
    if protocol not in ("grpc", "http"):
        raise ValueError(f"protocol={protocol!r}; choose 'grpc' or 'http'")
    return protocol  # type: ignore[return-value]


class TritonClient:
    """``with TritonClient("127.0.0.1:8001") as c: c.infer("model", {"x": array})``."""

    def __init__(
        self, url: str, *, protocol: str = "grpc", timeout_s: float = 30.0, connect_timeout_s: float = 5.0
    ) -> None:
        if timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.url = normalise_url(url)
        self.protocol = check_protocol(protocol)
        self.timeout_s = timeout_s
        self._module: ModuleType = grpcclient if self.protocol == "grpc" else httpclient
        try:
            if self.protocol == "grpc":
                self._client: Any = grpcclient.InferenceServerClient(self.url)
            else:
                self._client = httpclient.InferenceServerClient(
                    self.url, connection_timeout=connect_timeout_s, network_timeout=timeout_s
                )
        except Exception as exc:
            raise translate(exc, url=self.url, what="connect") from exc

    # -- plumbing ---------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., T], *args: Any, json: bool = False, **kwargs: Any) -> T:
        if self.protocol == "grpc":
            kwargs["client_timeout"] = self.timeout_s
            if json:
                kwargs["as_json"] = True
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc, url=self.url, what=what) from exc

    # -- health -----------------------------------------------------------------------------------
    def is_server_live(self) -> bool:
        try:
            return bool(self._call("server live", self._client.is_server_live))
        except ServerUnavailableError:
            return False

    def is_server_ready(self) -> bool:
        try:
            return bool(self._call("server ready", self._client.is_server_ready))
        except ServerUnavailableError:
            return False

    def is_model_ready(self, model: str, version: str = "") -> bool:
        """False for unknown or unloaded models; raises only when the server is unreachable."""
        try:
            return bool(self._call(f"model ready {model}", self._client.is_model_ready, model, version))
        except ServerUnavailableError:
            raise
        except ClientError:
            return False

    # -- inference --------------------------------------------------------------------------------
    def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        *,
        outputs: Sequence[str] | None = None,
        version: str = "",
    ) -> dict[str, np.ndarray]:
        what = f"infer {model}" + (f" version {version}" if version else "")
        built = build_inputs(self._module, inputs)
        result = self._call(
            what,
            self._client.infer,
            model,
            built,
            model_version=version,
            outputs=build_outputs(self._module, outputs),
        )
        return result_arrays(result, outputs)

    # -- metadata, config, statistics ----------------------------------------------------------------
    def metadata(self, model: str, version: str = "") -> ModelMetadata:
        raw = self._call(f"metadata {model}", self._client.get_model_metadata, model, version, json=True)
        return ModelMetadata.parse(raw)

    def config(self, model: str, version: str = "") -> model_config_pb2.ModelConfig:
        raw = self._call(f"config {model}", self._client.get_model_config, model, version, json=True)
        return parse_config(raw)

    def statistics(self, model: str = "", version: str = "") -> list[ModelStatistics]:
        raw = self._call(
            f"statistics {model}", self._client.get_inference_statistics, model, version, json=True
        )
        return [ModelStatistics.parse(s) for s in raw.get("model_stats", [])]

    def repository_index(self) -> list[RepositoryEntry]:
        raw = self._call("repository index", self._client.get_model_repository_index, json=True)
        entries = raw.get("models", []) if isinstance(raw, dict) else raw
        return [RepositoryEntry.parse(e) for e in entries]

    # -- model control (explicit mode) -----------------------------------------------------------------
    def load(self, model: str, config: str | None = None) -> None:
        """``config``: a model config as JSON overriding config.pbtxt for this load (Triton's
        load API; e.g. a version policy)."""
        kw: dict[str, Any] = {"config": config} if config is not None else {}
        self._call(f"load {model}", self._client.load_model, model, **kw)

    def unload(self, model: str) -> None:
        self._call(f"unload {model}", self._client.unload_model, model)

    # -- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TritonClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
