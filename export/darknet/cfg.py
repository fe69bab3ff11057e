"""Parse a Darknet .cfg (YOLOv3 / YOLOv3-tiny layout) into typed, frozen sections and infer shapes.

Supported: [net], [convolutional], [maxpool], [upsample], [route] (groups/group_id too),
[shortcut], [yolo]. Layer-changing keys we do not implement raise a DarknetFormatError naming
file:line and section; training-only keys are accepted and ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from modelserve.export.darknet.sections import TRAINING_ONLY_KEYS, RawSection, split_sections
from modelserve.export.errors import DarknetFormatError

logger = logging.getLogger(__name__)

Activation = Literal["leaky", "linear", "mish", "logistic"]
ACTIVATIONS: frozenset[str] = frozenset({"leaky", "linear", "mish", "logistic"})


@dataclass(frozen=True, kw_only=True)
class NetSection:
    width: int
    height: int
    channels: int
    line: int


@dataclass(frozen=True, kw_only=True)
class ConvSection:
    index: int
    line: int
    filters: int
    size: int
    stride: int
    padding: int  # symmetric, per side (darknet: pad=1 means size // 2)
    groups: int
    batch_normalize: bool
    activation: Activation


@dataclass(frozen=True, kw_only=True)
class MaxPoolSection:
    index: int
    line: int
    size: int
    stride: int
    padding: int  # total; darknet/OpenCV put padding // 2 before and the rest after (asymmetric)


@dataclass(frozen=True, kw_only=True)
class UpsampleSection:
    index: int
    line: int
    stride: int


@dataclass(frozen=True, kw_only=True)
class RouteSection:
    index: int
    line: int
    layers: tuple[int, ...]  # absolute layer indexes
    groups: int
    group_id: int


@dataclass(frozen=True, kw_only=True)
class ShortcutSection:
    index: int
    line: int
    source: int  # absolute layer index added to the previous layer's output
    activation: Activation


@dataclass(frozen=True, kw_only=True)
class YoloSection:
    index: int
    line: int
    mask: tuple[int, ...]
    anchors: tuple[tuple[float, float], ...]  # all `num` anchors, (w, h) in input pixels
    classes: int
    scale_x_y: float
    thresh: float | None  # OpenCV's per-class score floor (default 0.2 there); None = absent
    nms_threshold: float | None  # OpenCV's in-layer NMS (default 0.4 there); None = absent

    @property
    def masked_anchors(self) -> tuple[tuple[float, float], ...]:
        return tuple(self.anchors[m] for m in self.mask)


Layer = ConvSection | MaxPoolSection | UpsampleSection | RouteSection | ShortcutSection | YoloSection


@dataclass(frozen=True, kw_only=True)
class DarknetConfig:
    source: str
    net: NetSection
    layers: tuple[Layer, ...]

    @property
    def yolo_layers(self) -> tuple[YoloSection, ...]:
        return tuple(layer for layer in self.layers if isinstance(layer, YoloSection))


@dataclass(frozen=True, kw_only=True)
class TensorShape:
    channels: int
    height: int
    width: int


def _activation(section: RawSection) -> Activation:
    value = section.text("activation", "linear")
    if value in ACTIVATIONS:
        return cast(Activation, value)
    raise section.error(f"unsupported activation '{value}' (supported: {sorted(ACTIVATIONS)})")


def _relative(section: RawSection, index: int, value: float, key: str) -> int:
    absolute = index + int(value) if value < 0 else int(value)
    if not 0 <= absolute < index:
        raise section.error(f"{key}={int(value)} resolves to layer {absolute}, not one of 0..{index - 1}")
    return absolute


def _parse_layer(section: RawSection, index: int) -> Layer:
    kind, line = section.kind, section.line
    if kind == "convolutional":
        size = section.integer("size", minimum=1)
        for key, default in (("dilation", 1), ("flipped", 0), ("binary", 0), ("xnor", 0)):
            if section.integer(key, default) != default:
                raise section.error(f"{key} is not supported")
        explicit = section.integer("padding", 0, minimum=0)
        return ConvSection(
            index=index,
            line=line,
            filters=section.integer("filters", minimum=1),
            size=size,
            stride=section.integer("stride", 1, minimum=1),
            padding=size // 2 if section.integer("pad", 0) else explicit,
            groups=section.integer("groups", 1, minimum=1),
            batch_normalize=bool(section.integer("batch_normalize", 0)),
            activation=_activation(section),
        )
    if kind == "maxpool":
        # size/stride are required: darknet and OpenCV default them differently (1 vs 2).
        size = section.integer("size", minimum=1)
        return MaxPoolSection(
            index=index,
            line=line,
            size=size,
            stride=section.integer("stride", minimum=1),
            padding=section.integer("padding", size - 1, minimum=0),
        )
    if kind == "upsample":
        return UpsampleSection(index=index, line=line, stride=section.integer("stride", minimum=1))
    if kind == "route":
        layers = tuple(
            _relative(section, index, v, "layers") for v in section.numbers("layers", integer=True)
        )
        groups = section.integer("groups", 1, minimum=1)
        group_id = section.integer("group_id", 0, minimum=0)
        if group_id >= groups:
            raise section.error(f"group_id={group_id} must be < groups={groups}")
        return RouteSection(index=index, line=line, layers=layers, groups=groups, group_id=group_id)
    if kind == "shortcut":
        if section.number("alpha", 1.0, integer=False) != 1.0 or section.number("beta", 0.0, integer=False):
            raise section.error("alpha/beta scaling is not supported")
        if section.text("weights_type", "none") != "none":
            raise section.error("weighted shortcuts are not supported")
        source = _relative(section, index, section.number("from"), "from")
        return ShortcutSection(index=index, line=line, source=source, activation=_activation(section))
    if kind == "yolo":
        return _parse_yolo(section, index)
    raise section.error("unsupported section type")


def _parse_yolo(section: RawSection, index: int) -> YoloSection:
    num = section.integer("num", minimum=1)
    flat = section.numbers("anchors", integer=False)
    if len(flat) != 2 * num:
        raise section.error(f"anchors has {len(flat)} numbers, num={num} needs {2 * num}")
    mask = tuple(int(m) for m in section.numbers("mask", integer=True)) if "mask" in section.values else ()
    mask = mask or tuple(range(num))
    if any(not 0 <= m < num for m in mask):
        raise section.error(f"mask {list(mask)} must index 0..{num - 1}")
    if section.integer("new_coords", 0) != 0:
        raise section.error("new_coords=1 (scaled-YOLOv4 decoding) is not supported")
    thresh = section.number("thresh", integer=False) if "thresh" in section.values else None
    nms = section.number("nms_threshold", integer=False) if "nms_threshold" in section.values else None
    layer = YoloSection(
        index=index,
        line=section.line,
        mask=mask,
        classes=section.integer("classes", minimum=1),
        anchors=tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2)),
        scale_x_y=section.number("scale_x_y", 1.0, integer=False),
        thresh=thresh,
        nms_threshold=nms,
    )
    return layer


def parse_cfg(text: str, source: str = "<string>") -> DarknetConfig:
    sections = split_sections(text, source)
    head = sections[0]
    net = NetSection(
        width=head.integer("width", 416, minimum=1),
        height=head.integer("height", 416, minimum=1),
        channels=head.integer("channels", 3, minimum=1),
        line=head.line,
    )  # every other [net] key is a training hyper-parameter
    layers: list[Layer] = []
    for index, section in enumerate(sections[1:]):
        if section.kind == "net":
            raise section.error("a second [net] section")
        layers.append(_parse_layer(section, index))
        section.finish(TRAINING_ONLY_KEYS.get(section.kind, frozenset()))
    if not layers:
        raise DarknetFormatError(f"{source}: no layers after [net]")
    config = DarknetConfig(source=source, net=net, layers=tuple(layers))
    infer_shapes(config)  # shape errors surface at parse time
    logger.debug("parsed %s: %d layers, %d yolo heads", source, len(layers), len(config.yolo_layers))
    return config


def load_cfg(path: Path) -> DarknetConfig:
    return parse_cfg(path.read_text(encoding="utf-8"), str(path))


def _fail(config: DarknetConfig, layer: Layer, message: str) -> DarknetFormatError:
    kind = type(layer).__name__.removesuffix("Section").lower()
    return DarknetFormatError(f"{config.source}:{layer.line}: [{kind}] layer {layer.index}: {message}")


def infer_shapes(config: DarknetConfig) -> tuple[TensorShape, ...]:
    """Output shape (C, H, W) of every layer, checked the way darknet/OpenCV would build them."""
    shapes: list[TensorShape] = []
    net = config.net
    for layer in config.layers:
        prev = (
            shapes[-1] if shapes else TensorShape(channels=net.channels, height=net.height, width=net.width)
        )
        if isinstance(layer, ConvSection):
            if prev.channels % layer.groups or layer.filters % layer.groups:
                raise _fail(config, layer, f"groups={layer.groups} does not divide {prev.channels} channels")
            h, w = (
                (d + 2 * layer.padding - layer.size) // layer.stride + 1 for d in (prev.height, prev.width)
            )
            shape = TensorShape(channels=layer.filters, height=h, width=w)
        elif isinstance(layer, MaxPoolSection):
            h, w = ((d + layer.padding - layer.size) // layer.stride + 1 for d in (prev.height, prev.width))
            shape = TensorShape(channels=prev.channels, height=h, width=w)
        elif isinstance(layer, UpsampleSection):
            s = layer.stride
            shape = TensorShape(channels=prev.channels, height=prev.height * s, width=prev.width * s)
        elif isinstance(layer, RouteSection):
            inputs = [shapes[i] for i in layer.layers]
            if any(isinstance(config.layers[i], YoloSection) for i in layer.layers):
                raise _fail(config, layer, "routing from a [yolo] layer is not supported")
            if len({(s.height, s.width) for s in inputs}) != 1:
                raise _fail(config, layer, f"inputs {list(layer.layers)} differ in height/width")
            if any(s.channels % layer.groups for s in inputs):
                raise _fail(config, layer, f"groups={layer.groups} does not divide the input channels")
            channels = sum(s.channels // layer.groups for s in inputs)
            shape = TensorShape(channels=channels, height=inputs[0].height, width=inputs[0].width)
        elif isinstance(layer, ShortcutSection):
            if shapes[layer.source] != prev or isinstance(config.layers[layer.source], YoloSection):
                raise _fail(
                    config, layer, f"from layer {layer.source} {shapes[layer.source]} != input {prev}"
                )
            shape = prev
        else:
            want = len(layer.mask) * (5 + layer.classes)
            if prev.channels != want:
                raise _fail(config, layer, f"input has {prev.channels} channels, mask x (5+classes) = {want}")
            shape = prev
        if shape.height < 1 or shape.width < 1:
            raise _fail(config, layer, f"output {shape} is empty; the input is too small")
        shapes.append(shape)
    return tuple(shapes)
