"""Small ONNX graphs and matching Triton configs built in code (nothing downloaded): the helpers
the conformance tests build their models with, and NVIDIA's ``simple`` / ``simple_string`` examples
rebuilt from Triton's documentation, which the BYTES-cost benchmark serves. Configs are protobuf
messages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from google.protobuf import text_format
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2 as mc

INT32 = TensorProto.INT32
ValueInfo = onnx.ValueInfoProto

# Every numeric Triton type with its ONNX and numpy types (BF16 has no numpy type: left out).
NUMERIC_TYPES: dict[str, tuple[int, type]] = {
    "BOOL": (TensorProto.BOOL, np.bool_),
    "UINT8": (TensorProto.UINT8, np.uint8),
    "UINT16": (TensorProto.UINT16, np.uint16),
    "UINT32": (TensorProto.UINT32, np.uint32),
    "UINT64": (TensorProto.UINT64, np.uint64),
    "INT8": (TensorProto.INT8, np.int8),
    "INT16": (TensorProto.INT16, np.int16),
    "INT32": (TensorProto.INT32, np.int32),
    "INT64": (TensorProto.INT64, np.int64),
    "FP16": (TensorProto.FLOAT16, np.float16),
    "FP32": (TensorProto.FLOAT, np.float32),
    "FP64": (TensorProto.DOUBLE, np.float64),
}
_ONNX_TO_CONFIG = {
    **{elem: f"TYPE_{name}" for name, (elem, _) in NUMERIC_TYPES.items()},
    TensorProto.STRING: "TYPE_STRING",
}


def tensor(name: str, elem: int, shape: Sequence[int | str]) -> ValueInfo:
    return helper.make_tensor_value_info(name, elem, list(shape))


def graph(
    nodes: list[onnx.NodeProto],
    inputs: list[ValueInfo],
    outputs: list[ValueInfo],
    name: str = "g",
    initializers: Sequence[onnx.TensorProto] = (),
) -> onnx.ModelProto:
    model = helper.make_model(
        helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers)),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def io(
    name: str, data_type: str, dims: Sequence[int], reshape: Sequence[int] | None = None
) -> dict[str, object]:
    fields: dict[str, object] = {"name": name, "data_type": mc.DataType.Value(data_type), "dims": list(dims)}
    if reshape is not None:
        fields["reshape"] = mc.ModelTensorReshape(shape=list(reshape))
    return fields


def config_for(name: str, model: onnx.ModelProto, max_batch_size: int) -> mc.ModelConfig:
    """The config that matches the graph: every input and output, batch dim left out."""
    config = mc.ModelConfig(name=name, backend="onnxruntime", max_batch_size=max_batch_size)
    for values, target in ((model.graph.input, config.input), (model.graph.output, config.output)):
        for value in values:
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
            target.add(**io(value.name, _ONNX_TO_CONFIG[value.type.tensor_type.elem_type], dims[1:]))
    config.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU, count=1)
    return config


def write(
    root: Path,
    config: mc.ModelConfig | None,
    model: onnx.ModelProto | None = None,
    *,
    name: str | None = None,
    version: int = 1,
) -> Path:
    """A repository entry; config None leaves config.pbtxt out (auto-complete)."""
    folder = root / (name or (config.name if config is not None else "unnamed"))
    (folder / str(version)).mkdir(parents=True, exist_ok=True)
    if config is not None:
        (folder / "config.pbtxt").write_text(text_format.MessageToString(config))
    if model is not None:
        onnx.save(model, str(folder / str(version) / "model.onnx"))
    return folder


# --- NVIDIA's examples, rebuilt -------------------------------------------------------------------


def simple() -> onnx.ModelProto:
    """'simple': INT32 [-1, 16] x2 -> OUTPUT0 = sum, OUTPUT1 = difference."""
    ins = [tensor("INPUT0", INT32, ["N", 16]), tensor("INPUT1", INT32, ["N", 16])]
    outs = [tensor("OUTPUT0", INT32, ["N", 16]), tensor("OUTPUT1", INT32, ["N", 16])]
    nodes = [
        helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
        helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
    ]
    return graph(nodes, ins, outs, "simple")


def simple_string() -> onnx.ModelProto:
    """'simple_string': the same arithmetic on decimal strings, BYTES in and out."""
    ins = [tensor("INPUT0", TensorProto.STRING, ["N", 16]), tensor("INPUT1", TensorProto.STRING, ["N", 16])]
    outs = [
        tensor("OUTPUT0", TensorProto.STRING, ["N", 16]),
        tensor("OUTPUT1", TensorProto.STRING, ["N", 16]),
    ]
    nodes = [
        helper.make_node("Cast", ["INPUT0"], ["a"], to=INT32),
        helper.make_node("Cast", ["INPUT1"], ["b"], to=INT32),
        helper.make_node("Add", ["a", "b"], ["sum"]),
        helper.make_node("Sub", ["a", "b"], ["diff"]),
        helper.make_node("Cast", ["sum"], ["OUTPUT0"], to=TensorProto.STRING),
        helper.make_node("Cast", ["diff"], ["OUTPUT1"], to=TensorProto.STRING),
    ]
    return graph(nodes, ins, outs, "simple_string")
