"""API settings from the environment (prefix ``MODELSERVE_``), e.g. MODELSERVE_TRITON_URL."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelserve.client.targets import check_targets


class ApiSettings(BaseSettings):
    # An empty variable (compose writes `${X:-}`) means "not set": the default, not "" or Path(".").
    model_config = SettingsConfigDict(
        env_prefix="MODELSERVE_", frozen=True, extra="ignore", env_ignore_empty=True
    )

    triton_url: str = Field(default="127.0.0.1:8001", description="Triton endpoint the API calls")

    @field_validator("triton_url")
    @classmethod
    def _addresses(cls, value: str) -> str:
        check_targets(value)  # host:port, a list of them, or dns:///name:port (resolved later)
        return value

    triton_protocol: Literal["grpc", "http"] = "grpc"
    request_timeout_s: float = Field(default=30.0, gt=0)
    api_key: str | None = Field(default=None, description="when set, required in the X-API-Key header")
    api_bind: str = Field(
        default="127.0.0.1",
        description="the address the API is reachable on; any but loopback requires MODELSERVE_API_KEY",
    )
    control_key: str | None = Field(
        default=None, description="Triton's control-plane key, for the model list (/v1/models)"
    )
    repository: Path = Field(
        default=Path("model_repository"),
        description="read-only view of the model repository (metadata, tokenizers)",
    )
    versions_ttl_s: float = Field(
        default=1.0,
        ge=0,
        description="seconds a model's served version is cached before Triton is asked again",
    )
    coalesce_max_rows: int = Field(
        default=64, ge=0, description="rows per merged tabular call to Triton (0: no merging)"
    )
    coalesce_max_inflight: int = Field(
        default=2, ge=1, description="merged calls per model in flight before new ones queue"
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0, description="413 above this Content-Length")
    max_records: int = Field(default=1024, gt=0, description="413 above this many records per request")
    max_header_bytes: int = Field(default=32 * 1024, gt=0, description="431 above this many header bytes")
    max_headers: int = Field(default=100, gt=0, description="431 above this many request headers")
    header_timeout_s: float = Field(default=10.0, gt=0, description="408 when headers take longer")
    body_timeout_s: float = Field(default=60.0, gt=0, description="408 when a body takes longer")
    keepalive_s: int = Field(default=5, gt=0, description="an idle kept-alive connection closes after")
    shutdown_timeout_s: int = Field(
        default=15, gt=0, description="on SIGTERM, requests still running after this are cancelled"
    )
    cors_origins: tuple[str, ...] = Field(default=(), description="allowed browser origins; empty: no CORS")
    max_image_bytes: int = Field(default=8 * 1024 * 1024, gt=0, description="413 above this image size")
    max_image_pixels: int = Field(default=40_000_000, gt=0, description="413 above this many pixels")
    max_decode_pixels: int = Field(
        default=80_000_000, gt=0, description="pixels of all images being decoded at once; more wait"
    )
    max_denoise_pixels: int = Field(
        default=2_000_000, gt=0, description="413 above this many pixels for enhance?kind=denoise"
    )
    compat_model: str | None = Field(
        default=None, description="the tabular model POST /predict serves (the original Flask route)"
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry through the configured providers; off saves ~5% CPU",
    )
    monitoring: bool = Field(default=True, description="record predictions, accept feedback, watch drift")
    monitoring_url: str = Field(
        default="sqlite:///.modelserve/monitoring.sqlite",
        description="SQLAlchemy URL of the monitoring store; postgresql+psycopg://... for several replicas",
    )
    monitoring_policy: Path | None = Field(default=None, description="YAML: thresholds and actions per model")
    monitoring_check_s: float = Field(default=60.0, gt=0, description="seconds between drift/metric checks")
    monitoring_flush_s: float = Field(default=0.5, gt=0, description="seconds between record writes")
    monitoring_tick_s: float = Field(default=2.0, gt=0, description="seconds between live traffic updates")
    monitoring_retention_days: float = Field(
        default=30.0, gt=0, description="predictions, snapshots and events older than this are removed"
    )
    monitoring_max_predictions: int = Field(
        default=1_000_000, gt=0, description="predictions kept per model; the oldest beyond go"
    )

    @model_validator(mode="after")
    def _no_anonymous_public_api(self) -> ApiSettings:
        if not self.api_key and not _loopback(self.api_bind):
            raise ValueError(
                f"the API would be reachable on {self.api_bind} without a key: set MODELSERVE_API_KEY, "
                "or bind it to 127.0.0.1"
            )
        return self


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere
