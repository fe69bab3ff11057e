"""Small ONNX graphs built in code (no downloads), shared by unit and integration tests."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def scale_model(factor: float, *, features: int = 4, batch: bool = True, opset: int = 17) -> onnx.ModelProto:
    """y = x * factor, float32 [N, features] -> [N, features]."""
    first: int | str = "N" if batch else 1
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [first, features])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [first, features])
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [factor])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "k"], ["y"])], "scale", [x], [y], initializer=[k]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
