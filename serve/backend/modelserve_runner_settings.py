"""What the ONNX Runtime runner takes from a Triton model config (the JSON Triton hands a backend):
tensors, instance kind, the typed ``parameters`` (``modelserve_parameters``), accelerators, batch
buckets. Runs inside the Python-backend stub: numpy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:  # imported as modelserve.serve.backend.* (tests, benchmarks)
    from . import modelserve_parameters as P
except ImportError:  # inside the stub, beside model.py
    import modelserve_parameters as P  # type: ignore[no-redef]

# Triton config data types -> numpy; TYPE_STRING travels as object arrays of bytes.
TRITON_TO_NUMPY: dict[str, Any] = {
    "TYPE_BOOL": np.bool_,
    "TYPE_UINT8": np.uint8,
    "TYPE_UINT16": np.uint16,
    "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64,
    "TYPE_INT8": np.int8,
    "TYPE_INT16": np.int16,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_,
}


class RunnerError(Exception):
    """A request or model the runner cannot serve; the message names the problem."""


@dataclass(frozen=True, kw_only=True)
class TensorSpec:
    name: str
    dtype: Any
    dims: tuple[int, ...]  # without the batch dim
    reshape: tuple[int, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class RunnerSettings:
    """What the runner takes from a Triton model config (JSON form)."""

    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    use_gpu: bool = False
    device_id: int = 0
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    parallel_execution: bool = False
    enable_mem_arena: bool = True
    enable_mem_pattern: bool = True
    allow_spinning: bool = True  # ONNX Runtime's default
    device_allocator_for_initializers: bool = False
    graph_level: int | None = None
    cuda_options: dict[str, str] = field(default_factory=dict)
    tensorrt: bool = False
    tensorrt_fp16: bool = False
    pad_to_buckets: bool = False
    buckets: tuple[int, ...] = ()
    host_staging: bool = False  # page-locked input buffers per bucket (GPU instances)
    session_per_bucket: bool = False  # one session per bucket with the batch dim fixed (GPU instances)

    @classmethod
    def from_triton(cls, config: Mapping[str, Any], *, kind: str, device_id: int) -> RunnerSettings:
        """RunnerError when the config's ``parameters`` name a key the backend does not know."""
        raw = {k: str(v.get("string_value", "")) for k, v in (config.get("parameters") or {}).items()}
        try:
            params = P.check(raw)
        except P.ParameterError as exc:
            raise RunnerError(str(exc)) from None
        use_gpu = kind.upper() in ("GPU", "KIND_GPU")
        max_batch = int(config.get("max_batch_size", 0))
        cuda_options: dict[str, str] = {}
        tensorrt = tensorrt_fp16 = False
        accel = (config.get("optimization") or {}).get("execution_accelerators") or {}
        for acc in accel.get("gpu_execution_accelerator", []) or []:
            acc_params = {str(k): str(v) for k, v in (acc.get("parameters") or {}).items()}
            if acc.get("name") == "tensorrt":
                tensorrt = True
                tensorrt_fp16 = acc_params.get("precision_mode", "").upper() == "FP16"
            elif acc.get("name") == "cuda":
                cuda_options.update(acc_params)
        cuda_options.update(_cuda_parameters(params))
        graph = (config.get("optimization") or {}).get("graph") or {}
        pad = P.flag(params, P.PAD_BATCH_TO_BUCKETS, use_gpu)
        return cls(
            max_batch_size=max_batch,
            inputs=tuple(_spec(t) for t in config.get("input", [])),
            outputs=tuple(_spec(t) for t in config.get("output", [])),
            use_gpu=use_gpu,
            device_id=device_id,
            # GPU instances: the CUDA EP launches kernels from the calling thread; the CPU pool only
            # runs the few nodes left on the CPU, and a core-sized pool competes with Triton's threads.
            intra_op_threads=P.number(params, P.INTRA_OP_THREADS, 1 if use_gpu else 0),
            inter_op_threads=P.number(params, P.INTER_OP_THREADS, 0),
            parallel_execution=params.get(P.EXECUTION_MODE, "0") == "1",
            enable_mem_arena=P.flag(params, P.MEM_ARENA, True),
            enable_mem_pattern=P.flag(params, P.MEM_PATTERN, True),
            # Idle threads don't spin unless asked: measured on the 2-core box, a forest served
            # 15-25% more at concurrency 16 with idle threads sleeping (they share the cores with
            # the API and the other models).
            allow_spinning=P.flag(params, P.ALLOW_SPINNING, False),
            device_allocator_for_initializers=P.flag(params, P.DEVICE_ALLOCATOR_FOR_INITIALIZERS, False),
            graph_level=int(graph["level"]) if "level" in graph else None,
            cuda_options=cuda_options,
            tensorrt=tensorrt,
            tensorrt_fp16=tensorrt_fp16,
            pad_to_buckets=pad and max_batch > 0,
            buckets=batch_buckets(max_batch, _preferred_sizes(config)),
            host_staging=P.flag(params, P.HOST_STAGING, use_gpu) and pad and max_batch > 0,
            session_per_bucket=P.flag(params, P.SESSION_PER_BUCKET, use_gpu) and pad and max_batch > 0,
        )


def _cuda_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """The CUDA EP options NGC's backend takes as (deprecated) config parameters, in ORT's names."""
    options = {}
    if P.CUDNN_CONV_ALGO_SEARCH in params:
        # Triton's ORT backend takes 0/1/2; ORT's CUDA EP takes the names.
        options["cudnn_conv_algo_search"] = _cudnn_search(params[P.CUDNN_CONV_ALGO_SEARCH])
    if P.GPU_MEM_LIMIT in params:
        options["gpu_mem_limit"] = params[P.GPU_MEM_LIMIT]
    if P.ARENA_EXTEND_STRATEGY in params:
        options["arena_extend_strategy"] = ("kNextPowerOfTwo", "kSameAsRequested")[
            int(params[P.ARENA_EXTEND_STRATEGY])
        ]
    if P.COPY_IN_DEFAULT_STREAM in params:
        options["do_copy_in_default_stream"] = "1" if P.flag(params, P.COPY_IN_DEFAULT_STREAM, True) else "0"
    return options


def _cudnn_search(value: str) -> str:
    return {"0": "EXHAUSTIVE", "1": "HEURISTIC", "2": "DEFAULT"}.get(value, value.upper())


def _preferred_sizes(config: Mapping[str, Any]) -> tuple[int, ...]:
    batching = config.get("dynamic_batching") or {}
    return tuple(int(s) for s in batching.get("preferred_batch_size", []) or [])


def _spec(tensor: Mapping[str, Any]) -> TensorSpec:
    dtype_name = str(tensor.get("data_type", "TYPE_FP32"))
    if dtype_name not in TRITON_TO_NUMPY:
        raise RunnerError(f"tensor '{tensor.get('name')}': unsupported data_type {dtype_name}")
    reshape = tensor.get("reshape")
    return TensorSpec(
        name=str(tensor["name"]),
        dtype=TRITON_TO_NUMPY[dtype_name],
        dims=tuple(int(d) for d in tensor.get("dims", [])),
        reshape=tuple(int(d) for d in reshape.get("shape", [])) if reshape is not None else None,
    )


def batch_buckets(max_batch_size: int, preferred: Sequence[int] = ()) -> tuple[int, ...]:
    """Powers of two up to max_batch_size, plus the preferred sizes and max itself, sorted."""
    if max_batch_size <= 0:
        return ()
    sizes = {max_batch_size, *(p for p in preferred if 0 < p <= max_batch_size)}
    size = 1
    while size < max_batch_size:
        sizes.add(size)
        size *= 2
    return tuple(sorted(sizes))


def bucket_for(n: int, buckets: Sequence[int]) -> int:
    for size in buckets:
        if size >= n:
            return size
    return n
