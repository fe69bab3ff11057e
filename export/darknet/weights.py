"""Read and write Darknet .weights files for a parsed cfg.

Layout (little-endian): int32 major, minor, revision; ``seen`` as int64 when major*10+minor >= 2,
else int32; then per [convolutional] layer, in cfg order: ``filters`` float32 biases (the BN beta
when batch_normalize=1), and if batch_normalize: scales, rolling mean, rolling variance; then the
kernel, filters x (in_channels / groups) x size x size. Nothing may follow the last layer.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from modelserve.export.darknet.cfg import ConvSection, DarknetConfig, infer_shapes
from modelserve.export.errors import DarknetFormatError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class WeightsHeader:
    major: int = 0
    minor: int = 2
    revision: int = 0
    seen: int = 0

    @property
    def size(self) -> int:
        return 12 + (8 if self.major * 10 + self.minor >= 2 else 4)


@dataclass(frozen=True, kw_only=True, eq=False)
class BatchNorm:
    scales: FloatArray
    rolling_mean: FloatArray
    rolling_var: FloatArray


@dataclass(frozen=True, kw_only=True, eq=False)
class ConvWeights:
    layer_index: int
    biases: FloatArray  # BN beta when batch_norm is set, else the conv bias
    batch_norm: BatchNorm | None
    kernel: FloatArray  # [filters, in_channels / groups, size, size]


@dataclass(frozen=True, kw_only=True, eq=False)
class DarknetWeights:
    header: WeightsHeader
    convs: tuple[ConvWeights, ...]

    def for_layer(self, index: int) -> ConvWeights:
        for conv in self.convs:
            if conv.layer_index == index:
                return conv
        raise DarknetFormatError(f"no weights for [convolutional] layer {index}")


def _conv_layers(config: DarknetConfig) -> list[tuple[ConvSection, tuple[int, int, int, int]]]:
    """Each conv layer with its kernel shape (filters, in_channels / groups, size, size)."""
    shapes = infer_shapes(config)
    out: list[tuple[ConvSection, tuple[int, int, int, int]]] = []
    for layer in config.layers:
        if isinstance(layer, ConvSection):
            in_channels = shapes[layer.index - 1].channels if layer.index else config.net.channels
            out.append((layer, (layer.filters, in_channels // layer.groups, layer.size, layer.size)))
    return out


def expected_float_count(config: DarknetConfig) -> int:
    total = 0
    for layer, kernel in _conv_layers(config):
        total += layer.filters * (4 if layer.batch_normalize else 1) + int(np.prod(kernel))
    return total


def _read_header(data: bytes, path: Path) -> WeightsHeader:
    if len(data) < 16:
        raise DarknetFormatError(f"{path}: {len(data)} bytes is shorter than a weights header")
    major, minor, revision = struct.unpack_from("<3i", data, 0)
    if major > 1000 or minor > 1000:
        raise DarknetFormatError(f"{path}: version {major}.{minor} marks transposed weights (unsupported)")
    wide = major * 10 + minor >= 2
    if wide and len(data) < 20:
        raise DarknetFormatError(
            f"{path}: {len(data)} bytes is shorter than a version {major}.{minor} header"
        )
    (seen,) = struct.unpack_from("<q" if wide else "<i", data, 12)
    return WeightsHeader(major=major, minor=minor, revision=revision, seen=seen)


def read_weights(path: Path, config: DarknetConfig) -> DarknetWeights:
    data = path.read_bytes()
    header = _read_header(data, path)
    body = len(data) - header.size
    expected = expected_float_count(config)
    if body != expected * 4:
        have = f"{body // 4} floats" + (f" + {body % 4} stray bytes" if body % 4 else "")
        raise DarknetFormatError(
            f"{path}: {config.source} needs {expected} float32 after the {header.size}-byte header, "
            f"the file has {have} ({'too short' if body < expected * 4 else 'too long'})"
        )
    floats = np.frombuffer(data, dtype="<f4", offset=header.size).astype(np.float32)
    offset = 0

    def take(count: int) -> FloatArray:
        nonlocal offset
        offset += count
        return floats[offset - count : offset]

    convs: list[ConvWeights] = []
    for layer, kernel in _conv_layers(config):
        biases = take(layer.filters)
        batch_norm = None
        if layer.batch_normalize:
            batch_norm = BatchNorm(
                scales=take(layer.filters), rolling_mean=take(layer.filters), rolling_var=take(layer.filters)
            )
        weights = take(int(np.prod(kernel))).reshape(kernel)
        convs.append(
            ConvWeights(layer_index=layer.index, biases=biases, batch_norm=batch_norm, kernel=weights)
        )
    logger.debug("read %d conv layers (%d floats) from %s", len(convs), expected, path)
    return DarknetWeights(header=header, convs=tuple(convs))


def write_weights(path: Path, weights: DarknetWeights) -> None:
    header = weights.header
    wide = header.major * 10 + header.minor >= 2
    parts: list[FloatArray] = []
    for conv in weights.convs:
        parts.append(conv.biases)
        if conv.batch_norm is not None:
            parts += [conv.batch_norm.scales, conv.batch_norm.rolling_mean, conv.batch_norm.rolling_var]
        parts.append(conv.kernel.ravel())
    body = np.concatenate(parts).astype("<f4") if parts else np.zeros(0, dtype="<f4")
    with path.open("wb") as handle:
        handle.write(struct.pack("<3i", header.major, header.minor, header.revision))
        handle.write(struct.pack("<q" if wide else "<i", header.seen))
        handle.write(body.tobytes())


def random_weights(config: DarknetConfig, seed: int = 0) -> DarknetWeights:
    """Plausible random weights: He-scaled kernels, BN stats near identity so activations stay O(1)."""
    rng = np.random.default_rng(seed)
    convs: list[ConvWeights] = []
    for layer, kernel in _conv_layers(config):
        fan_in = kernel[1] * kernel[2] * kernel[3]
        filters = layer.filters

        def vec(low: float, high: float, n: int = filters) -> FloatArray:
            return rng.uniform(low, high, n).astype(np.float32)

        batch_norm = None
        if layer.batch_normalize:
            batch_norm = BatchNorm(
                scales=vec(0.5, 1.5), rolling_mean=vec(-0.1, 0.1), rolling_var=vec(0.5, 2.0)
            )
        conv = rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel).astype(np.float32)
        convs.append(
            ConvWeights(layer_index=layer.index, biases=vec(-0.1, 0.1), batch_norm=batch_norm, kernel=conv)
        )
    return DarknetWeights(
        header=WeightsHeader(major=0, minor=2, revision=0, seen=32013312), convs=tuple(convs)
    )
