"""What the sync and asyncio clients share: everything but the I/O (as httpx's ``BaseClient``).

Each operation is a ``Call``: the tritonclient method to invoke, its arguments, how to parse the
answer, and which errors mean a plain answer rather than a failure (a model that is not ready is
``False``, not an exception). ``client.sync`` and ``client.aio`` only run calls.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import model_config_pb2

from modelserve.client._tensors import build_inputs, build_outputs, result_arrays
from modelserve.client._translate import translate
from modelserve.client.errors import (
    ClientError,
    InferenceTimeoutError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
)
from modelserve.client.targets import parse_targets
from modelserve.client.types import ModelMetadata, ModelStatistics, RepositoryEntry, parse_config

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


def _identity(raw: Any) -> Any:
    return raw


def _none(_: Any) -> None:
    return None


@dataclass(frozen=True)
class Call(Generic[T]):
    what: str  # for error messages: "infer iris_rf version 2"
    method: str  # on tritonclient's InferenceServerClient
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    json: bool = False  # gRPC answers as JSON (as HTTP does), so one parser serves both
    parse: Callable[[Any], T] = _identity
    # An error that is an answer: e.g. "not ready" -> False. Returns None to re-raise.
    recover: Callable[[ClientError], T | None] | None = None
    control: bool = False  # a control-plane API: send the control key
    timeout_s: float | None = None  # this call's own bound (readiness probes), else the client's


def _not_ready(exc: ClientError) -> bool | None:
    return None if isinstance(exc, ServerUnavailableError) else False


def _down(exc: ClientError) -> bool | None:
    # A server that does not answer in time is not ready either (a hung one answers nothing).
    return False if isinstance(exc, ServerUnavailableError | InferenceTimeoutError) else None


# The header Triton checks on restricted APIs (serve.settings.CONTROL_HEADER); over gRPC it
# expects the same name behind Triton's protocol prefix.
CONTROL_HEADER = "modelserve-control"
GRPC_CONTROL_HEADER = f"triton-grpc-protocol-{CONTROL_HEADER}"
_MAX_MESSAGE = 2**31 - 1
# gRPC channel options. Setting any replaces tritonclient's defaults, so its message-size limits
# are repeated. The reconnect backoff is capped at 1 s: with gRPC's default (up to 120 s) the API
# took 11.8 s to notice a restarted Triton.
GRPC_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class Rotation:
    """Which replica each try of a call goes to: replicas in turn, the next one on each retry
    (whatever other calls took meanwhile), and one found down is tried last for ``rest_s``."""

    def __init__(self, size: int, rest_s: float = 1.0) -> None:
        self.size, self.rest_s = size, rest_s
        self._turn = itertools.count()
        self._resting_until = [0.0] * size

    def order(self) -> list[int]:
        start = next(self._turn)
        turns = [(start + k) % self.size for k in range(self.size)]
        now = time.monotonic()
        return sorted(turns, key=lambda i: self._resting_until[i] > now)  # stable: keeps the turn

    def down(self, index: int) -> None:
        self._resting_until[index] = time.monotonic() + self.rest_s


class ClientCore:
    def __init__(self, url: str, protocol: str, timeout_s: float, control_key: str | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.protocol = check_protocol(protocol)
        # A list or a dns:/// name: calls spread over the replicas (client.targets).
        self.targets = parse_targets(url, resolve=self.protocol == "http")
        self.url = self.targets.url
        self.timeout_s = timeout_s
        self.control_key = control_key
        self.module: ModuleType = grpcclient if self.protocol == "grpc" else httpclient

    @property
    def grpc_targets(self) -> list[str]:
        """What each gRPC channel dials: one channel for a dns:/// name, which gRPC resolves (again
        as connections age out) and balances round-robin; otherwise a channel per replica, taken
        in turn, so that a retry goes to another replica, never the one that just failed."""
        return [self.targets.grpc_target] if self.targets.dns else list(self.targets.addresses)

    @property
    def channel_args(self) -> list[tuple[str, Any]]:
        if not self.targets.dns:
            return GRPC_CHANNEL_ARGS
        return [*GRPC_CHANNEL_ARGS, ("grpc.lb_policy_name", "round_robin")]

    def retries(self, call: Call[Any]) -> int:
        """Extra tries a call gets after a replica went away or lost the model: each other listed
        replica once; three behind a dns:/// name, where gRPC's round robin picks (and with many
        calls in flight a retry can draw the failing replica again). Model control never retries:
        it must reach the server it was meant for."""
        if call.control or not self.targets.balanced:
            return 0
        return 3 if self.targets.dns else len(self.targets.addresses) - 1

    def check_fleet(self, call: Call[Any]) -> None:
        if self.targets.balanced and call.method in ("load_model", "unload_model"):
            raise ValueError(
                f"{call.what}: a load or unload reaches one server, and {self.url} names several; "
                "use `modelserve models load|unload|promote`, which act on every replica"
            )

    def timeout(self, call: Call[Any]) -> float:
        return call.timeout_s or self.timeout_s

    def kwargs(self, call: Call[Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if call.control and self.control_key:
            name = GRPC_CONTROL_HEADER if self.protocol == "grpc" else CONTROL_HEADER
            extra["headers"] = {name: self.control_key}
        if self.protocol == "grpc":
            extra["client_timeout"] = self.timeout(call)
            if call.json:
                extra["as_json"] = True
        return {**call.kwargs, **extra}

    def translated(self, call: Call[Any], exc: Exception) -> ClientError:
        return translate(exc, url=self.url, what=call.what)

    def retryable(self, call: Call[Any], error: ClientError, attempt: int) -> bool:
        """Whether to try again on another replica, while tries are left: the one tried went away,
        or no longer has the model ready. A replica stopping gracefully (SIGTERM, as Kubernetes
        stops pods) unloads its models first and answers 'not ready' / 'no available versions'
        for a few seconds: 68 of 672 calls failed that way before these were retried too."""
        return attempt < self.retries(call) and isinstance(
            error, ServerUnavailableError | ModelNotReadyError | ModelNotFoundError
        )

    def failed(self, call: Call[T], error: ClientError, exc: Exception) -> T:
        """The answer an error stands for, or our typed error (raised)."""
        if call.recover is not None:
            answer = call.recover(error)
            if answer is not None:
                return answer
        raise error from exc

    def connect_error(self, exc: Exception) -> ClientError:
        return translate(exc, url=self.url, what="connect")

    # -- the calls ------------------------------------------------------------------------------
    def server_live(self) -> Call[bool]:
        return Call("server live", "is_server_live", parse=bool, recover=_down)

    def server_ready(self, timeout_s: float | None = None) -> Call[bool]:
        return Call("server ready", "is_server_ready", parse=bool, recover=_down, timeout_s=timeout_s)

    def model_ready(self, model: str, version: str, timeout_s: float | None = None) -> Call[bool]:
        """False for unknown or unloaded models; raises only when the server is unreachable."""
        return Call(
            f"model ready {model}",
            "is_model_ready",
            (model, version),
            parse=bool,
            recover=_not_ready,
            timeout_s=timeout_s,
        )

    def infer(
        self, model: str, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None, version: str
    ) -> Call[dict[str, np.ndarray]]:
        return Call(
            f"infer {model}" + (f" version {version}" if version else ""),
            "infer",
            (model, build_inputs(self.module, inputs)),
            {"model_version": version, "outputs": build_outputs(self.module, outputs)},
            parse=lambda result: result_arrays(result, outputs),
        )

    def metadata(self, model: str, version: str) -> Call[ModelMetadata]:
        return Call(
            f"metadata {model}", "get_model_metadata", (model, version), json=True, parse=ModelMetadata.parse
        )

    def config(self, model: str, version: str) -> Call[model_config_pb2.ModelConfig]:
        return Call(f"config {model}", "get_model_config", (model, version), json=True, parse=parse_config)

    def statistics(self, model: str, version: str) -> Call[list[ModelStatistics]]:
        def parse(raw: Any) -> list[ModelStatistics]:
            return [ModelStatistics.parse(s) for s in raw.get("model_stats", [])]

        return Call(
            f"statistics {model}", "get_inference_statistics", (model, version), json=True, parse=parse
        )

    def repository_index(self) -> Call[list[RepositoryEntry]]:
        def parse(raw: Any) -> list[RepositoryEntry]:
            entries = raw.get("models", []) if isinstance(raw, dict) else raw
            return [RepositoryEntry.parse(e) for e in entries]

        return Call("repository index", "get_model_repository_index", json=True, parse=parse, control=True)

    def load(self, model: str, config: str | None) -> Call[None]:
        """``config``: a model config as JSON overriding config.pbtxt for this load (Triton's load
        API; e.g. a version policy)."""
        kwargs = {"config": config} if config is not None else {}
        return Call(f"load {model}", "load_model", (model,), kwargs, parse=_none, control=True)

    def unload(self, model: str) -> Call[None]:
        return Call(f"unload {model}", "unload_model", (model,), parse=_none, control=True)
