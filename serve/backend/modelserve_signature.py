"""A model config checked against its ONNX graph at load, the way Triton's ONNX Runtime backend does.

NGC Triton refuses to load a config whose names, data types or dims disagree with the graph; the
embedded server must too, or a wrong config loads READY and fails (or answers wrongly) per request.
The checks, their order and their messages follow the ONNX Runtime backend of Triton 2.51 (r24.10,
``ModelInstanceState::Validate*`` and ``CompareDimsSupported``), so an error reads the same on both.

Runs inside the Python-backend stub: numpy-free, onnxruntime only through a session's metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# onnxruntime's type strings -> Triton config data types.
ORT_TO_TRITON = {
    "tensor(bool)": "TYPE_BOOL",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(uint16)": "TYPE_UINT16",
    "tensor(uint32)": "TYPE_UINT32",
    "tensor(uint64)": "TYPE_UINT64",
    "tensor(int8)": "TYPE_INT8",
    "tensor(int16)": "TYPE_INT16",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64",
    "tensor(float16)": "TYPE_FP16",
    "tensor(float)": "TYPE_FP32",
    "tensor(double)": "TYPE_FP64",
    "tensor(string)": "TYPE_STRING",
    "tensor(bfloat16)": "TYPE_BF16",
}
# How Triton names a graph's type in "model provides TYPE_<x>" (TRITONSERVER_DataTypeString).
_SERVER_NAMES = {"TYPE_STRING": "BYTES"}
# How the ORT backend names a graph's type for sequence controls (OnnxDataTypeName).
_ONNX_NAMES = {
    "tensor(float)": "FLOAT",
    "tensor(float16)": "FLOAT16",
    "tensor(double)": "DOUBLE",
    "tensor(bfloat16)": "BFLOAT16",
}
BOOLEAN_CONTROLS = ("CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_END", "CONTROL_SEQUENCE_READY")
TYPED_CONTROLS = ("CONTROL_SEQUENCE_CORRID",)
_CONTROL_TYPES = {
    "int32_false_true": "TYPE_INT32",
    "fp32_false_true": "TYPE_FP32",
    "bool_false_true": "TYPE_BOOL",
}


class ModelConfigError(Exception):
    """The config disagrees with the graph; the message is Triton's for the same mismatch."""


@dataclass(frozen=True, kw_only=True)
class GraphIO:
    name: str
    ort_type: str  # "tensor(float)"
    dims: tuple[int, ...]  # -1 where the graph's dim is symbolic or unknown

    @property
    def data_type(self) -> str:
        return ORT_TO_TRITON.get(self.ort_type, "TYPE_INVALID")

    @property
    def provides(self) -> str:
        """The type as Triton's messages print it: ``TYPE_FP32``, ``TYPE_BYTES``."""
        name = self.data_type.removeprefix("TYPE_")
        return "TYPE_" + _SERVER_NAMES.get(self.data_type, name)

    @property
    def onnx_name(self) -> str:
        return _ONNX_NAMES.get(self.ort_type, self.ort_type.removeprefix("tensor(").rstrip(")").upper())


@dataclass(frozen=True, kw_only=True)
class Signature:
    inputs: dict[str, GraphIO]
    outputs: dict[str, GraphIO]
    overridable: dict[str, GraphIO]  # initializers a request may override (Triton allows them as inputs)


def _io(arg: Any) -> GraphIO:
    dims = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return GraphIO(name=str(arg.name), ort_type=str(arg.type), dims=dims)


def read_signature(session: Any) -> Signature:
    """What an ``onnxruntime.InferenceSession`` says its graph takes and gives."""
    return Signature(
        inputs={a.name: _io(a) for a in session.get_inputs()},
        outputs={a.name: _io(a) for a in session.get_outputs()},
        overridable={a.name: _io(a) for a in session.get_overridable_initializers()},
    )


def shape_str(dims: Sequence[int]) -> str:
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


def _dims(tensor: Mapping[str, Any], key: str = "dims") -> list[int]:
    reshape = tensor.get("reshape")
    if key == "dims" and reshape is not None:
        return [int(d) for d in reshape.get("shape", [])]  # the model-side shape is what is compared
    return [int(d) for d in tensor.get(key, [])]


def control_tensor(sequence: Mapping[str, Any], kind: str) -> tuple[str, str] | None:
    """(tensor name, config data type) of the control input of ``kind``, or None."""
    for control_input in sequence.get("control_input", []) or []:
        for control in control_input.get("control", []) or []:
            if control.get("kind") != kind:
                continue
            if kind in TYPED_CONTROLS:
                return str(control_input["name"]), str(control.get("data_type", "TYPE_INVALID"))
            for field, data_type in _CONTROL_TYPES.items():
                if control.get(field):
                    return str(control_input["name"]), data_type
            return str(control_input["name"]), "TYPE_INVALID"
    return None


def _check_control(model: str, sig: Signature, max_batch: int, name: str, data_type: str) -> None:
    graph = sig.inputs.get(name)
    if graph is None:
        raise ModelConfigError(
            f"configuration specified sequence control '{name}', but model does not provide that input"
        )
    debatched = graph.dims[1:] if max_batch > 0 else graph.dims
    if list(debatched) != [1]:
        raise ModelConfigError(
            f"unable to load model '{model}', sequence control '{name}' in model has dims "
            f"{shape_str(debatched)} but dims [1] is expected"
        )
    if graph.data_type != data_type:
        raise ModelConfigError(
            f"unable to load model '{model}', sequence control '{name}', the model expects data-type "
            f"{graph.onnx_name} but the model configuration specifies data-type {data_type}"
        )


@dataclass(frozen=True)
class DimsMismatch:
    """How a config's dims break Triton's rule: ``batch`` (max_batch_size > 0 but the graph's first
    dim is missing or fixed), ``rank``, or ``dims`` (the axes after the batch dim that differ)."""

    reason: str
    axes: tuple[int, ...] = ()


def dims_mismatch(
    graph: Sequence[int], dims: Sequence[int], max_batch: int, exact: bool
) -> DimsMismatch | None:
    """Triton's CompareDimsSupported, the one copy of the rule (the exporter checks with it too):
    an input may fix a dim the graph leaves variable (-1); an output (``exact``) must match it."""
    if max_batch > 0:
        if not graph or graph[0] != -1:
            return DimsMismatch("batch")
        graph = graph[1:]
    if len(graph) != len(dims):
        return DimsMismatch("rank")
    axes = tuple(i for i, (g, d) in enumerate(zip(graph, dims, strict=True)) if (exact or g != -1) and g != d)
    return DimsMismatch("dims", axes) if axes else None


def _compare_dims(
    model: str, tensor: str, graph: Sequence[int], dims: Sequence[int], max_batch: int, exact: bool
) -> None:
    mismatch = dims_mismatch(graph, dims, max_batch, exact)
    if mismatch is None:
        return
    head = f"model '{model}', tensor '{tensor}': "
    if mismatch.reason == "batch":
        raise ModelConfigError(
            head + "for the model to support batching the shape should have at least 1 dimension "
            f"and the first dimension must be -1; but shape expected by the model is {shape_str(graph)}"
        )
    if max_batch > 0:
        full = [-1, *dims]
        raise ModelConfigError(
            head + f"the model expects {len(graph)} dimensions (shape {shape_str(graph)}) but the model "
            f"configuration specifies {len(full)} dimensions (an initial batch dimension because "
            "max_batch_size > 0 followed by the explicit tensor shape, making complete shape "
            f"{shape_str(full)})"
        )
    raise ModelConfigError(
        head + f"the model expects {len(graph)} dimensions (shape {shape_str(graph)}) but the model "
        f"configuration specifies {len(dims)} dimensions (shape {shape_str(dims)})"
    )


def _check_io(
    model: str, kind: str, tensor: Mapping[str, Any], graphs: Mapping[str, GraphIO], max_batch: int
) -> None:
    name, data_type = str(tensor["name"]), str(tensor.get("data_type", "TYPE_INVALID"))
    graph = graphs.get(name)
    if graph is None:
        allowed = ", ".join(sorted(graphs))
        raise ModelConfigError(f"unexpected inference {kind} '{name}', allowed {kind}s are: {allowed}")
    if data_type != graph.data_type:
        raise ModelConfigError(
            f"unable to load model '{model}', configuration expects datatype {data_type} for {kind} "
            f"'{name}', model provides {graph.provides}"
        )
    dims = _dims(tensor)
    if graph.dims:
        _compare_dims(model, name, graph.dims, dims, max_batch, exact=kind == "output")
    elif any(d != 1 for d in dims):
        raise ModelConfigError(
            f"unable to load model '{model}', scalar tensor '{name}', should only provide 1 in the model "
            f"configuration when the model doesn't support batching. Model configuration provided: "
            f"{shape_str(dims)}."
        )


def validate(config: Mapping[str, Any], sig: Signature) -> None:
    """Raise ModelConfigError with the first mismatch, in the order Triton's ORT backend checks."""
    model = str(config.get("name", ""))
    max_batch = int(config.get("max_batch_size", 0))
    inputs = list(config.get("input", []) or [])
    expected = sum(1 for t in inputs if not t.get("optional", False))
    expected += len(config.get("batch_input", []) or [])
    sequence = config.get("sequence_batching")
    if sequence is not None:
        for kind in (*BOOLEAN_CONTROLS, *TYPED_CONTROLS):
            found = control_tensor(sequence, kind)
            if found is not None:
                _check_control(model, sig, max_batch, *found)
                expected += 1
        expected += len(sequence.get("state", []) or [])
    if len(sig.inputs) != expected:
        raise ModelConfigError(
            f"unable to load model '{model}', configuration expects {expected} inputs, model provides "
            f"{len(sig.inputs)}"
        )
    for tensor in inputs:
        if tensor.get("optional", False) and max_batch != 0:
            raise ModelConfigError(
                f"unable to load model '{model}', optional input '{tensor['name']}' is not supported for "
                "models that support batching"
            )
        _check_io(model, "input", tensor, {**sig.inputs, **sig.overridable}, max_batch)
    for tensor in config.get("output", []) or []:
        _check_io(model, "output", tensor, sig.outputs, max_batch)
    for state in (sequence or {}).get("state", []) or []:
        _check_state(model, state, sig)


def _check_state(model: str, state: Mapping[str, Any], sig: Signature) -> None:
    for kind, key, graphs in (("input", "input_name", sig.inputs), ("output", "output_name", sig.outputs)):
        name, data_type = str(state.get(key, "")), str(state.get("data_type", "TYPE_INVALID"))
        graph = graphs.get(name)
        if graph is None:
            raise ModelConfigError(
                f"unexpected inference {kind} '{name}', allowed {kind}s are: {', '.join(sorted(graphs))}"
            )
        if data_type != graph.data_type:
            raise ModelConfigError(
                f"unable to load model '{model}', configuration expects datatype {data_type} for "
                f"{kind} state '{name}', model provides {graph.provides}"
            )
