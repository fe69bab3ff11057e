"""Typed views of Triton's answers, parsed the same way from HTTP JSON and gRPC (as_json) forms.

gRPC's JSON renders 64-bit integers as strings; everything here goes through ``int()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2


@dataclass(frozen=True, kw_only=True)
class TensorMetadata:
    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ModelMetadata:
    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorMetadata, ...]
    outputs: tuple[TensorMetadata, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ModelMetadata:
        return cls(
            name=str(raw.get("name", "")),
            versions=tuple(str(v) for v in raw.get("versions", [])),
            platform=str(raw.get("platform", "")),
            inputs=tuple(_tensor(t) for t in raw.get("inputs", [])),
            outputs=tuple(_tensor(t) for t in raw.get("outputs", [])),
        )


def _tensor(raw: Mapping[str, Any]) -> TensorMetadata:
    return TensorMetadata(
        name=str(raw["name"]),
        datatype=str(raw["datatype"]),
        shape=tuple(int(d) for d in raw.get("shape", [])),
    )


@dataclass(frozen=True, kw_only=True)
class RepositoryEntry:
    name: str
    version: str
    state: str
    reason: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> RepositoryEntry:
        return cls(
            name=str(raw.get("name", "")),
            version=str(raw.get("version", "")),
            state=str(raw.get("state", "")),
            reason=str(raw.get("reason", "")),
        )


@dataclass(frozen=True, kw_only=True)
class Duration:
    count: int
    ns: int

    @property
    def mean_us(self) -> float:
        return self.ns / self.count / 1e3 if self.count else 0.0


@dataclass(frozen=True, kw_only=True)
class ModelStatistics:
    """Cumulative counters of one model version since load (Triton's statistics extension)."""

    name: str
    version: str
    inference_count: int
    execution_count: int
    success: Duration
    fail: Duration
    queue: Duration
    compute_input: Duration
    compute_infer: Duration
    compute_output: Duration
    batch_sizes: dict[int, int]  # batch size -> executions

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ModelStatistics:
        stats = raw.get("inference_stats", {})
        return cls(
            name=str(raw.get("name", "")),
            version=str(raw.get("version", "")),
            inference_count=int(raw.get("inference_count", 0)),
            execution_count=int(raw.get("execution_count", 0)),
            success=_duration(stats.get("success")),
            fail=_duration(stats.get("fail")),
            queue=_duration(stats.get("queue")),
            compute_input=_duration(stats.get("compute_input")),
            compute_infer=_duration(stats.get("compute_infer")),
            compute_output=_duration(stats.get("compute_output")),
            batch_sizes={
                int(b.get("batch_size", 0)): int((b.get("compute_infer") or {}).get("count", 0))
                for b in raw.get("batch_stats", [])
            },
        )


def _duration(raw: Mapping[str, Any] | None) -> Duration:
    raw = raw or {}
    return Duration(count=int(raw.get("count", 0)), ns=int(raw.get("ns", 0)))


def parse_config(raw: Mapping[str, Any]) -> model_config_pb2.ModelConfig:
    """A model config as Triton returns it (gRPC wraps it in {"config": ...}) -> the protobuf message."""
    body = raw.get("config", raw)
    return json_format.ParseDict(dict(body), model_config_pb2.ModelConfig(), ignore_unknown_fields=True)
