"""User-facing description of one repository entry: keyword-only frozen dataclasses that validate
themselves. ``modelserve.repository.config`` turns a ModelEntry into Triton's ModelConfig protobuf."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from modelserve.repository.errors import ConfigValidationError, UnknownParameterError
from modelserve.serve.backend import modelserve_parameters as backend_parameters

DATA_TYPES = (
    "TYPE_BOOL",
    "TYPE_UINT8",
    "TYPE_UINT16",
    "TYPE_UINT32",
    "TYPE_UINT64",
    "TYPE_INT8",
    "TYPE_INT16",
    "TYPE_INT32",
    "TYPE_INT64",
    "TYPE_FP16",
    "TYPE_FP32",
    "TYPE_FP64",
    "TYPE_STRING",
    "TYPE_BF16",
)
InstanceKind = Literal["KIND_AUTO", "KIND_CPU", "KIND_GPU"]
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def check_model_name(name: str) -> str:
    """A folder name in the repository and a URL path segment: no path tricks ('.', '..')."""
    if not name or not set(name) <= _NAME_CHARS or name.startswith(".") or len(name) > 255:
        raise ConfigValidationError(
            f"model name {name!r}: use letters, digits, '_', '-' and '.' (not first), at most 255"
        )
    return name


def normalise_data_type(value: str) -> str:
    """Accept "FP32", "fp32" or "TYPE_FP32"."""
    name = value.upper()
    name = name if name.startswith("TYPE_") else f"TYPE_{name}"
    if name not in DATA_TYPES:
        raise ConfigValidationError(
            f"data type {value!r} is not a Triton type; choose one of {', '.join(DATA_TYPES)}"
        )
    return name


@dataclass(frozen=True, kw_only=True)
class TensorConfig:
    """One input or output. ``dims`` exclude the batch dim when the model batches; -1 = variable."""

    name: str
    data_type: str
    dims: tuple[int, ...]
    reshape: tuple[int, ...] | None = None  # the model's own shape, when it differs from ``dims``
    label_filename: str | None = None  # outputs only: classification labels file beside config.pbtxt

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigValidationError("a tensor needs a name")
        object.__setattr__(self, "data_type", normalise_data_type(self.data_type))
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        if any(d == 0 or d < -1 for d in self.dims):
            raise ConfigValidationError(
                f"tensor '{self.name}': dims {list(self.dims)} must be positive or -1"
            )
        if self.reshape is not None:
            object.__setattr__(self, "reshape", tuple(int(d) for d in self.reshape))


@dataclass(frozen=True, kw_only=True)
class InstanceGroup:
    """KIND_AUTO lets Triton pick GPU where there is one, CPU elsewhere: the same config serves both."""

    kind: InstanceKind = "KIND_AUTO"
    count: int = 1
    gpus: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("KIND_AUTO", "KIND_CPU", "KIND_GPU"):
            raise ConfigValidationError(
                f"instance kind {self.kind!r}; choose KIND_AUTO, KIND_CPU or KIND_GPU"
            )
        if self.count < 1:
            raise ConfigValidationError(f"instance count {self.count} must be at least 1")
        if self.gpus and self.kind != "KIND_GPU":
            raise ConfigValidationError(f"gpus {list(self.gpus)} given for a {self.kind} instance group")


@dataclass(frozen=True, kw_only=True)
class DynamicBatching:
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_us: int = 100

    def __post_init__(self) -> None:
        if self.max_queue_delay_us < 0:
            raise ConfigValidationError(f"max_queue_delay_us {self.max_queue_delay_us} must be >= 0")
        if any(s < 1 for s in self.preferred_batch_sizes):
            raise ConfigValidationError(
                f"preferred batch sizes {list(self.preferred_batch_sizes)} must be >= 1"
            )


@dataclass(frozen=True, kw_only=True)
class VersionPolicy:
    """``latest`` (the newest ``num_versions``), ``all``, or ``specific`` versions."""

    kind: Literal["latest", "all", "specific"] = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("latest", "all", "specific"):
            raise ConfigValidationError(f"version policy {self.kind!r}; choose latest, all or specific")
        if self.kind == "latest" and self.num_versions < 1:
            raise ConfigValidationError("version policy latest needs num_versions >= 1")
        if self.kind == "specific" and not self.versions:
            raise ConfigValidationError("version policy specific needs at least one version")


@dataclass(frozen=True, kw_only=True)
class ModelEntry:
    """Everything config.pbtxt says about one model."""

    name: str
    inputs: tuple[TensorConfig, ...]
    outputs: tuple[TensorConfig, ...]
    max_batch_size: int = 0
    backend: str = "onnxruntime"
    dynamic_batching: DynamicBatching | None = None
    instance_groups: tuple[InstanceGroup, ...] = ()
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    warmup_batch_sizes: tuple[int, ...] = ()  # one warm-up request (random data) per size
    parameters: Mapping[str, str] = field(default_factory=dict)  # backend_parameters' vocabulary
    tensorrt_fp16: bool = False  # GPU nodes: ask the ORT backend for the TensorRT EP in FP16
    default_model_filename: str = "model.onnx"

    def __post_init__(self) -> None:
        check_model_name(self.name)
        if self.max_batch_size < 0:
            raise ConfigValidationError(f"max_batch_size {self.max_batch_size} must be >= 0")
        if not self.inputs or not self.outputs:
            raise ConfigValidationError(f"model '{self.name}' needs at least one input and one output")
        names = [t.name for t in (*self.inputs, *self.outputs)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigValidationError(f"model '{self.name}': tensor names used twice: {dupes}")
        if self.dynamic_batching is not None and self.max_batch_size == 0:
            raise ConfigValidationError(f"model '{self.name}': dynamic batching needs max_batch_size > 0")
        too_big = [
            s
            for s in (
                *self.warmup_batch_sizes,
                *(self.dynamic_batching.preferred_batch_sizes if self.dynamic_batching else ()),
            )
            if self.max_batch_size and s > self.max_batch_size
        ]
        if too_big:
            raise ConfigValidationError(
                f"model '{self.name}': batch sizes {too_big} exceed max_batch_size {self.max_batch_size}"
            )
        try:
            backend_parameters.check(self.parameters)
        except backend_parameters.ParameterError as exc:
            raise UnknownParameterError(f"model '{self.name}': {exc}") from None
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
