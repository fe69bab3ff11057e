"""Build an ONNX graph (opset 17, IR 8, float32) from a parsed Darknet cfg and its weights.

Input ``images`` is NCHW [N, C, H, W] (N dynamic; RGB, scaled to [0, 1]). Each [yolo] layer becomes
an output ``yolo_<k>`` holding the RAW conv map that feeds it, [N, A*(5+classes), h, w]; the sigmoid/exp
decoding is left to postprocessing and described by the DecodingContract returned alongside.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelserve.export.darknet.cfg import (
    Activation,
    ConvSection,
    DarknetConfig,
    Layer,
    MaxPoolSection,
    RouteSection,
    ShortcutSection,
    UpsampleSection,
    YoloSection,
    infer_shapes,
)
from modelserve.export.darknet.weights import BatchNorm, DarknetWeights, FloatArray
from modelserve.export.errors import DarknetFormatError

logger = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "images"
BATCH_DIM = "N"
LEAKY_SLOPE = 0.1
# OpenCV's Darknet importer: scale / sqrt(var + 1e-6). Darknet itself divides by sqrt(var) + 1e-6;
# the two differ by < 1e-6 relative for var >= ~1e-6, so we match OpenCV (our parity reference).
BN_EPSILON = 1e-6
LAYOUT = "darknet_v3_raw"
DECODE_NOTE = (
    "Raw conv maps. Reshape [N, A*(5+C), h, w] -> [N, A, 5+C, h, w]; per anchor a, cell (gy, gx): "
    "x = (gx + sigmoid(tx)*s - (s-1)/2) * stride, y likewise, w = exp(tw) * anchor_w, h = exp(th) * "
    "anchor_h (pixels of the network input, s = scale_x_y), objectness = sigmoid(to), class score = "
    "objectness * sigmoid(tc). All sigmoid/exp are applied in postprocessing, not in the graph."
)


@dataclass(frozen=True, kw_only=True)
class YoloOutput:
    name: str
    layer_index: int  # the [yolo] layer's index in the cfg
    anchors: tuple[tuple[float, float], ...]  # masked (w, h) pairs in input pixels
    stride: int
    grid: tuple[int, int]  # (h, w)
    classes: int
    scale_x_y: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "anchors": [list(pair) for pair in self.anchors],
            "num_anchors": len(self.anchors),
            "stride": self.stride,
            "grid": list(self.grid),
            "classes": self.classes,
            "scale_x_y": self.scale_x_y,
            "channels": len(self.anchors) * (5 + self.classes),
        }


@dataclass(frozen=True, kw_only=True)
class DecodingContract:
    input_name: str
    input_shape: tuple[int, int, int]  # (C, H, W); the batch dim is dynamic
    outputs: tuple[YoloOutput, ...]
    layout: str = LAYOUT

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "input": {
                "name": self.input_name,
                "shape": [-1, *self.input_shape],
                "scale": 1.0 / 255.0,
                "channel_order": "RGB",
                "resize": "stretch",
            },
            "outputs": [output.to_dict() for output in self.outputs],
            "note": DECODE_NOTE,
        }


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.channels: dict[str, int] = {}  # tensor name -> channel count, for route groups

    def const(self, name: str, array: np.ndarray[Any, Any]) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{output}_{op}", **attrs))
        return output

    def activation(self, kind: Activation, tensor: str, out: str) -> str:
        if kind == "leaky":
            return self.node("LeakyRelu", [tensor], out, alpha=LEAKY_SLOPE)
        if kind == "logistic":
            return self.node("Sigmoid", [tensor], out)
        if kind == "mish":  # opset 17 has no Mish: x * tanh(softplus(x))
            soft = self.node("Softplus", [tensor], f"{out}_softplus")
            return self.node("Mul", [tensor, self.node("Tanh", [soft], f"{out}_tanh")], out)
        return self.node("Identity", [tensor], out)


def fold_batch_norm(
    kernel: FloatArray, biases: FloatArray, weights_bn: BatchNorm | None
) -> tuple[FloatArray, FloatArray]:
    """Conv kernel and bias with the BatchNorm (scales, rolling mean/var, beta = biases) folded in."""
    if weights_bn is None:
        return kernel, biases
    factor = weights_bn.scales / np.sqrt(weights_bn.rolling_var.astype(np.float64) + BN_EPSILON)
    folded = (kernel.astype(np.float64) * factor[:, None, None, None]).astype(np.float32)
    bias = (biases - weights_bn.rolling_mean.astype(np.float64) * factor).astype(np.float32)
    return folded, bias


def _add_layer(
    graph: _Graph, layer: Layer, inp: str, out: str, names: list[str], weights: DarknetWeights
) -> str:
    if isinstance(layer, ConvSection):
        conv = weights.for_layer(layer.index)
        want = (layer.filters, graph.channels.get(inp, -1) // layer.groups, layer.size, layer.size)
        if conv.kernel.shape != want or (conv.batch_norm is None) == layer.batch_normalize:
            raise DarknetFormatError(
                f"layer {layer.index}: weights {conv.kernel.shape} do not fit the cfg {want}"
            )
        kernel, bias = fold_batch_norm(conv.kernel, conv.biases, conv.batch_norm)
        w = graph.const(f"{out}_weight", kernel)
        b = graph.const(f"{out}_bias", bias)
        p, k, s = layer.padding, layer.size, layer.stride
        tensor = graph.node(
            "Conv",
            [inp, w, b],
            f"{out}_conv" if layer.activation != "linear" else out,
            kernel_shape=[k, k],
            strides=[s, s],
            pads=[p, p, p, p],
            group=layer.groups,
        )
        return tensor if layer.activation == "linear" else graph.activation(layer.activation, tensor, out)
    if isinstance(layer, MaxPoolSection):
        before, after = layer.padding // 2, layer.padding - layer.padding // 2  # darknet/OpenCV asymmetric
        return graph.node(
            "MaxPool",
            [inp],
            out,
            kernel_shape=[layer.size] * 2,
            strides=[layer.stride] * 2,
            pads=[before, before, after, after],
        )
    if isinstance(layer, UpsampleSection):
        scales = graph.const(f"{out}_scales", np.array([1, 1, layer.stride, layer.stride], dtype=np.float32))
        return graph.node(
            "Resize",
            [inp, "", scales],
            out,
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )
    if isinstance(layer, RouteSection):
        sources = [names[i] for i in layer.layers]
        if layer.groups > 1:
            sources = [_channel_group(graph, src, layer, f"{out}_part{n}") for n, src in enumerate(sources)]
        if len(sources) == 1:
            return graph.node("Identity", sources, out)
        return graph.node("Concat", sources, out, axis=1)
    if isinstance(layer, ShortcutSection):
        added = graph.node(
            "Add", [inp, names[layer.source]], f"{out}_add" if layer.activation != "linear" else out
        )
        return added if layer.activation == "linear" else graph.activation(layer.activation, added, out)
    return inp  # the yolo layer decodes; our graph stops at its raw input


def _channel_group(graph: _Graph, source: str, layer: RouteSection, out: str) -> str:
    channels = graph.channels[source] // layer.groups
    start = graph.const(f"{out}_start", np.array([channels * layer.group_id], dtype=np.int64))
    end = graph.const(f"{out}_end", np.array([channels * (layer.group_id + 1)], dtype=np.int64))
    axis = graph.const(f"{out}_axis", np.array([1], dtype=np.int64))
    return graph.node("Slice", [source, start, end, axis], out)


def build_onnx(config: DarknetConfig, weights: DarknetWeights) -> tuple[onnx.ModelProto, DecodingContract]:
    shapes = infer_shapes(config)
    net = config.net
    graph = _Graph()
    graph.channels[INPUT_NAME] = net.channels
    names: list[str] = []
    heads: list[YoloOutput] = []
    tensor = INPUT_NAME
    for layer, shape in zip(config.layers, shapes, strict=True):
        out = f"layer{layer.index}_{type(layer).__name__.removesuffix('Section').lower()}"
        tensor = _add_layer(graph, layer, tensor, out, names, weights)
        graph.channels[tensor] = shape.channels
        names.append(tensor)
        if isinstance(layer, YoloSection):
            name = f"yolo_{len(heads)}"
            if (
                net.width % shape.width
                or net.height % shape.height
                or (net.width // shape.width != net.height // shape.height)
            ):
                raise DarknetFormatError(
                    f"{config.source}:{layer.line}: [yolo] grid {shape} has no single "
                    f"integer stride for input {net.height}x{net.width}"
                )
            graph.node("Identity", [tensor], name)
            heads.append(
                YoloOutput(
                    name=name,
                    layer_index=layer.index,
                    anchors=layer.masked_anchors,
                    stride=net.width // shape.width,
                    grid=(shape.height, shape.width),
                    classes=layer.classes,
                    scale_x_y=layer.scale_x_y,
                )
            )
    if not heads:
        raise DarknetFormatError(f"{config.source}: no [yolo] layer, nothing to output")
    inputs = [
        helper.make_tensor_value_info(
            INPUT_NAME, TensorProto.FLOAT, [BATCH_DIM, net.channels, net.height, net.width]
        )
    ]
    outputs = [
        helper.make_tensor_value_info(
            h.name, TensorProto.FLOAT, [BATCH_DIM, shapes[h.layer_index].channels, *h.grid]
        )
        for h in heads
    ]
    onnx_graph = helper.make_graph(graph.nodes, "darknet_yolo", inputs, outputs, graph.initializers)
    model = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="modelserve-darknet"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    contract = DecodingContract(
        input_name=INPUT_NAME, input_shape=(net.channels, net.height, net.width), outputs=tuple(heads)
    )
    logger.info(
        "built ONNX from %s: %d nodes, outputs %s", config.source, len(graph.nodes), [h.name for h in heads]
    )
    return model, contract
