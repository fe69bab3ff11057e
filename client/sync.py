"""Blocking client over tritonclient HTTP or gRPC, numpy in and out, our typed errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import model_config_pb2

from modelserve.client._core import Call, ClientCore, Rotation, check_protocol, normalise_url
from modelserve.client.errors import ClientError, ServerUnavailableError
from modelserve.client.targets import parse_targets
from modelserve.client.types import ModelMetadata, ModelStatistics, RepositoryEntry

T = TypeVar("T")
__all__ = ["TritonClient", "check_protocol", "normalise_url"]


class TritonClient:
    """``with TritonClient("127.0.0.1:8001") as c: c.infer("model", {"x": array})``."""

    def __init__(
        self,
        url: str,
        *,
        protocol: str = "grpc",
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        control_key: str | None = None,
    ) -> None:
        """``control_key``: the server's control-plane key, for load, unload and the repository
        index on a server that restricts them (``modelserve up`` does)."""
        if connect_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self._core = ClientCore(url, protocol, timeout_s, control_key)
        self.url, self.protocol, self.timeout_s = self._core.url, self._core.protocol, timeout_s
        targets = self._core.targets
        try:
            if self.protocol == "grpc":
                self._clients: list[Any] = [
                    grpcclient.InferenceServerClient(target, channel_args=self._core.channel_args)
                    for target in self._core.grpc_targets
                ]
            else:  # one connection pool per host, taken in turn
                self._clients = [
                    httpclient.InferenceServerClient(
                        address, connection_timeout=connect_timeout_s, network_timeout=timeout_s
                    )
                    for address in targets.addresses
                ]
        except Exception as exc:
            raise self._core.connect_error(exc) from exc
        self._rotation = Rotation(len(self._clients))

    def _run(self, call: Call[T]) -> T:
        self._core.check_fleet(call)
        order = self._rotation.order()
        for attempt in range(1 + self._core.retries(call)):
            index = order[attempt % len(order)]
            client = self._clients[index]
            try:
                raw = getattr(client, call.method)(*call.args, **self._core.kwargs(call))
            except Exception as exc:
                error = self._core.translated(call, exc)
                if isinstance(error, ServerUnavailableError):
                    self._rotation.down(index)
                if self._core.retryable(call, error, attempt):
                    continue  # that replica went away: once more, on another
                return self._core.failed(call, error, exc)
            return call.parse(raw)
        raise AssertionError("unreachable")

    def replica_status(self, timeout_s: float = 0.8) -> dict[str, bool]:
        """Whether each replica answers ready, by address (a dns:/// name resolved now)."""
        status = {}
        for address in parse_targets(self._core.targets.url).addresses:
            with TritonClient(address, protocol=self.protocol, timeout_s=timeout_s) as probe:
                try:
                    status[address] = probe.is_server_ready(timeout_s=timeout_s)
                except ClientError:
                    status[address] = False
        return status

    def is_server_live(self) -> bool:
        return self._run(self._core.server_live())

    def is_server_ready(self, timeout_s: float | None = None) -> bool:
        return self._run(self._core.server_ready(timeout_s))

    def is_model_ready(self, model: str, version: str = "", timeout_s: float | None = None) -> bool:
        return self._run(self._core.model_ready(model, version, timeout_s))

    def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        *,
        outputs: Sequence[str] | None = None,
        version: str = "",
    ) -> dict[str, np.ndarray]:
        return self._run(self._core.infer(model, inputs, outputs, version))

    def metadata(self, model: str, version: str = "") -> ModelMetadata:
        return self._run(self._core.metadata(model, version))

    def config(self, model: str, version: str = "") -> model_config_pb2.ModelConfig:
        return self._run(self._core.config(model, version))

    def statistics(self, model: str = "", version: str = "") -> list[ModelStatistics]:
        return self._run(self._core.statistics(model, version))

    def repository_index(self) -> list[RepositoryEntry]:
        return self._run(self._core.repository_index())

    def load(self, model: str, config: str | None = None) -> None:
        """``config``: a model config as JSON overriding config.pbtxt for this load."""
        self._run(self._core.load(model, config))

    def unload(self, model: str) -> None:
        self._run(self._core.unload(model))

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def __enter__(self) -> TritonClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
