"""Settings of the embedded server: ports, model control, paths. Environment prefix ``MODELSERVE_``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ModelControl = Literal["explicit", "poll", "none"]
CONTROL_HEADER = "modelserve-control"  # Triton checks it; gRPC clients send it prefixed (client._core)
_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """How to run the embedded tritonserver.

    Port 0 means "pick a free port" (tests); the defaults are Triton's usual 8000/8001/8002.
    """

    repository: Path
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    host: str = "127.0.0.1"
    # Where gRPC alone listens, e.g. 0.0.0.0: clients reach gRPC while HTTP (whose JSON parser a
    # single request can abort, a Triton bug) and metrics stay on ``host``. None: ``host``.
    grpc_host: str | None = None
    model_control: ModelControl = "explicit"
    load_models: tuple[str, ...] = ("*",)  # explicit mode: what to load at start; () loads nothing
    poll_interval_s: int = 5
    work_dir: Path = field(default_factory=lambda: Path(".modelserve"))
    log_verbose: int = 0
    ready_timeout_s: float = 60.0
    # Triton waits this long at exit for in-flight requests and open client connections.
    exit_timeout_s: int = 5
    # Triton's --cache-config values, e.g. ("local,size=1048576",); models opt in with
    # `response_cache { enable: true }`. Empty: no response cache.
    cache_config: tuple[str, ...] = ()
    # The Python prefix the backend stub runs in; None: $MODELSERVE_STUB_ENV or <venv>/stub-runtime.
    stub_env: Path | None = None
    extra_args: tuple[str, ...] = ()
    # Triton's control plane (load/unload, shared-memory registration, trace and log settings) is
    # behind a header secret unless unlocked: anyone reaching the ports could otherwise unload
    # models or load a Python model whose code runs as the server's user. None: generated.
    lock_control_plane: bool = True
    control_key: str | None = None
    restricted_apis: tuple[str, ...] = ("model-repository", "shared-memory", "trace", "logging")

    def __post_init__(self) -> None:
        for name in ("http_port", "grpc_port", "metrics_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"{name}={port} is not a port number (0-65535; 0 picks a free one)")
        chosen = [p for p in (self.http_port, self.grpc_port, self.metrics_port) if p]
        if len(set(chosen)) < len(chosen):
            raise ValueError(
                f"HTTP, gRPC and metrics ports must differ (given {self.http_port}, "
                f"{self.grpc_port}, {self.metrics_port}; 0 picks a free one)"
            )
        if self.model_control not in ("explicit", "poll", "none"):
            raise ValueError(f"model_control={self.model_control!r}; choose explicit, poll or none")
        if self.control_key is not None and not _KEY.fullmatch(self.control_key):
            raise ValueError("control_key must be 16-128 characters of letters, digits, '-' and '_'")
        for value in self.cache_config:
            name, _, rest = value.partition(",")
            if not name or "=" not in rest:
                raise ValueError(
                    f"cache_config {value!r} is not <cache>,<key>=<value> (e.g. local,size=1048576)"
                )
        if self.ready_timeout_s <= 0:
            raise ValueError(f"ready_timeout_s={self.ready_timeout_s} must be positive")
