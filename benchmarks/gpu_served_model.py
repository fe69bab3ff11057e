"""The model and the plain ONNX Runtime session that ``benchmarks.gpu_concurrency`` measures.

``resnet50`` is torchvision's (random weights; needs torch and torchvision), exported to one
``model.onnx`` with a dynamic batch axis; ``mlp`` is a small graph built with onnx alone, for dry runs
on a CPU box.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper


@functools.cache
def onnxruntime() -> Any:
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):  # onnxruntime-gpu: CUDA and cuDNN from the nvidia-* wheels
        ort.preload_dlls()
    return ort


def ort_session(path: Path, cuda: bool, cudnn_search: str | None) -> Any:
    """ONNX Runtime as a user would run it alone: its defaults, unless a cuDNN search is named."""
    ort = onnxruntime()
    options = {"cudnn_conv_algo_search": cudnn_search} if cudnn_search else {}
    providers = [("CUDAExecutionProvider", options)] if cuda else ["CPUExecutionProvider"]
    so = ort.SessionOptions()
    so.log_severity_level = 3  # per-node placement warnings would flood the output tail
    sess = ort.InferenceSession(str(path), so, providers=providers)
    if cuda and sess.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(f"CUDA EP not active: {sess.get_providers()}")
    return sess


def build_model(kind: str) -> tuple[onnx.ModelProto, tuple[int, ...], tuple[int, ...]]:
    """Random-weight model, its per-item input shape and its per-item output shape."""
    if kind == "resnet50":
        import torch
        import torchvision

        net = torchvision.models.resnet50(weights=None).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "resnet50.onnx"
            torch.onnx.export(
                net,
                (torch.randn(1, 3, 224, 224),),
                str(path),
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
                opset_version=17,
                dynamo=False,
            )
            return onnx.load(str(path)), (3, 224, 224), (1000,)
    rng = np.random.default_rng(0)
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [256, 512], rng.standard_normal((256, 512)).ravel())
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [512, 16], rng.standard_normal((512, 16)).ravel())
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])],
        initializer=[w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, (256,), (16,)
