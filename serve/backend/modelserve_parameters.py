"""The ``parameters`` a model config may give the ONNX Runtime backend: one typed vocabulary.

The exporters refuse an unknown key at export, our backend refuses it at load (a typo such as
``intra_op_threads`` would otherwise be ignored in silence and the model served untuned), and the
tuner and the GPU benchmarks name keys through it. The keys are NGC Triton's ONNX Runtime backend's
(its README, r24.10) plus the few only our backend reads; each says where it takes effect.

Runs inside Triton's Python-backend stub, beside ``model.py``: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BOTH, NGC_ONLY, EMBEDDED_ONLY = "both servers", "NGC Triton only", "the embedded server only"
_TRUE, _FALSE = ("1", "true"), ("0", "false")


class ParameterError(ValueError):
    """A parameter key the backend does not know, or a value of the wrong kind."""


@dataclass(frozen=True, kw_only=True)
class Parameter:
    key: str
    kind: str  # "int" (>= 0), "flag" (0/1, true/false) or "choice"
    applies: str  # BOTH, NGC_ONLY or EMBEDDED_ONLY
    help: str
    choices: tuple[str, ...] = ()

    def check(self, value: str) -> str:
        """``value`` as the backend reads it; ParameterError naming the key otherwise."""
        text = str(value).strip().lower()
        if self.kind == "int" and not text.isdigit():
            raise ParameterError(f"parameter '{self.key}': {value!r} is not a whole number >= 0")
        if self.kind == "flag" and text not in (*_TRUE, *_FALSE):
            raise ParameterError(f"parameter '{self.key}': {value!r}; use 1/0 (or true/false)")
        if self.kind == "choice" and text not in self.choices:
            raise ParameterError(
                f"parameter '{self.key}': {value!r}; choose one of {', '.join(self.choices)}"
            )
        return text


def _p(key: str, kind: str, applies: str, help: str, choices: tuple[str, ...] = ()) -> Parameter:
    return Parameter(key=key, kind=kind, applies=applies, help=help, choices=choices)


# The keys, as the names other modules use.
INTRA_OP_THREADS = "intra_op_thread_count"
INTER_OP_THREADS = "inter_op_thread_count"
EXECUTION_MODE = "execution_mode"
MEM_ARENA = "enable_mem_arena"
MEM_PATTERN = "enable_mem_pattern"
ARENA_SHRINKAGE = "memory.enable_memory_arena_shrinkage"
DEVICE_ALLOCATOR_FOR_INITIALIZERS = "session.use_device_allocator_for_initializers"
CUDNN_CONV_ALGO_SEARCH = "cudnn_conv_algo_search"
GPU_MEM_LIMIT = "gpu_mem_limit"
ARENA_EXTEND_STRATEGY = "arena_extend_strategy"
COPY_IN_DEFAULT_STREAM = "do_copy_in_default_stream"
ALLOW_SPINNING = "allow_spinning"
PAD_BATCH_TO_BUCKETS = "pad_batch_to_buckets"
HOST_STAGING = "host_staging"
SESSION_PER_BUCKET = "session_per_bucket"

PARAMETERS: dict[str, Parameter] = {
    p.key: p
    for p in (
        _p(INTRA_OP_THREADS, "int", BOTH, "threads within an operator (0: ONNX Runtime picks, one per core)"),
        _p(INTER_OP_THREADS, "int", BOTH, "threads across operators (parallel execution mode only)"),
        _p(EXECUTION_MODE, "choice", BOTH, "0 sequential, 1 parallel", ("0", "1")),
        _p(MEM_ARENA, "flag", BOTH, "ONNX Runtime's CPU memory arena"),
        _p(MEM_PATTERN, "flag", BOTH, "memory pattern planning"),
        _p(ARENA_SHRINKAGE, "choice", NGC_ONLY, "arena shrinkage per run", ("cpu:0", "gpu:0", "cpu:0;gpu:0")),
        _p(
            DEVICE_ALLOCATOR_FOR_INITIALIZERS, "flag", BOTH, "allocate initializers with the device allocator"
        ),
        _p(CUDNN_CONV_ALGO_SEARCH, "choice", BOTH, "0 exhaustive, 1 heuristic, 2 default", ("0", "1", "2")),
        _p(GPU_MEM_LIMIT, "int", BOTH, "CUDA memory limit in bytes"),
        _p(ARENA_EXTEND_STRATEGY, "choice", BOTH, "0 next power of two, 1 as requested", ("0", "1")),
        _p(COPY_IN_DEFAULT_STREAM, "flag", BOTH, "copies on the compute stream"),
        _p(ALLOW_SPINNING, "flag", EMBEDDED_ONLY, "idle intra-op threads spin (default 0: they sleep)"),
        _p(PAD_BATCH_TO_BUCKETS, "flag", EMBEDDED_ONLY, "pad batches to warmed sizes (default: on GPU)"),
        _p(HOST_STAGING, "flag", EMBEDDED_ONLY, "page-locked input buffers per bucket (default: on GPU)"),
        _p(SESSION_PER_BUCKET, "flag", EMBEDDED_ONLY, "one session per batch bucket (default: on GPU)"),
    )
}
KNOWN = tuple(sorted(PARAMETERS))


def check(parameters: Mapping[str, str]) -> dict[str, str]:
    """Every key known and every value of its kind: the values as the backend reads them. An unknown
    key fails naming it and every known one, so a typo is fixed in one look."""
    unknown = sorted(set(parameters) - set(PARAMETERS))
    if unknown:
        raise ParameterError(
            f"unknown backend parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the ONNX Runtime backend knows {', '.join(KNOWN)}"
        )
    return {key: PARAMETERS[key].check(value) for key, value in parameters.items()}


def flag(parameters: Mapping[str, str], key: str, default: bool) -> bool:
    """A flag from checked parameters (``check``'s output), ``default`` when absent."""
    value = parameters.get(key)
    return default if value is None else value in _TRUE


def number(parameters: Mapping[str, str], key: str, default: int) -> int:
    value = parameters.get(key)
    return default if value is None else int(value)
