"""The signature of an ONNX graph (inputs, outputs, types, shapes, opsets), read with ``onnx``."""

from __future__ import annotations

from dataclasses import dataclass

import onnx

# ONNX TensorProto element type -> Triton data type.
ONNX_TO_TRITON: dict[int, str] = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.UINT16: "TYPE_UINT16",
    onnx.TensorProto.INT16: "TYPE_INT16",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.STRING: "TYPE_STRING",
    onnx.TensorProto.BOOL: "TYPE_BOOL",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.UINT32: "TYPE_UINT32",
    onnx.TensorProto.UINT64: "TYPE_UINT64",
    onnx.TensorProto.BFLOAT16: "TYPE_BF16",
}

# A dim that is symbolic or unknown in the graph.
DYNAMIC = -1


@dataclass(frozen=True, kw_only=True)
class GraphTensor:
    name: str
    data_type: str  # Triton name, or "UNSUPPORTED(<elem>)"
    shape: tuple[int, ...] | None  # None: rank unknown


@dataclass(frozen=True, kw_only=True)
class GraphSignature:
    inputs: dict[str, GraphTensor]
    outputs: dict[str, GraphTensor]
    opsets: dict[str, int]  # domain ("" = ai.onnx) -> version
    ir_version: int


def _tensor(value: onnx.ValueInfoProto) -> GraphTensor:
    tensor_type = value.type.tensor_type
    elem = int(tensor_type.elem_type)
    shape: tuple[int, ...] | None = None
    if tensor_type.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else DYNAMIC for d in tensor_type.shape.dim)
    return GraphTensor(
        name=value.name, data_type=ONNX_TO_TRITON.get(elem, f"UNSUPPORTED({elem})"), shape=shape
    )


def read_signature(model: onnx.ModelProto) -> GraphSignature:
    initializers = {init.name for init in model.graph.initializer}
    return GraphSignature(
        inputs={v.name: _tensor(v) for v in model.graph.input if v.name not in initializers},
        outputs={v.name: _tensor(v) for v in model.graph.output},
        opsets={op.domain or "": op.version for op in model.opset_import},
        ir_version=model.ir_version,
    )
