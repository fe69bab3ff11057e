"""Compare our Darknet->ONNX export with OpenCV's own Darknet importer on the same cfg/weights/input.

OpenCV turns each [yolo] layer into Permute ("permute_<i>") + Region ("yolo_<i>", i = the cfg layer
index). The Region output is DECODED: [N, h*w*A, 5+C], row (gy*w + gx)*A + a, columns x, y (cell
centre / grid, in [0, 1]), w, h (exp * anchor / input size), objectness (sigmoid), then per class
objectness*sigmoid, zeroed where <= thresh (cfg ``thresh``, default 0.2) and by per-class NMS when
the cfg sets ``nms_threshold`` > 0 (OpenCV 4.14 runs no NMS when the key is absent). We compare
(a) the raw conv maps: OpenCV's output of the layer feeding each "permute_<i>" against our
``yolo_<k>``; and (b) our raw maps decoded the same way against OpenCV's Region output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from modelserve.contracts.yolo import decode_darknet_head
from modelserve.export.darknet.cfg import DarknetConfig, YoloSection
from modelserve.export.darknet.graph import DecodingContract, YoloOutput
from modelserve.export.darknet.weights import FloatArray
from modelserve.export.errors import YoloParityError

logger = logging.getLogger(__name__)

OPENCV_DEFAULT_THRESH = 0.2
OPENCV_DEFAULT_NMS = 0.0  # observed with OpenCV 4.14: no in-layer NMS unless the cfg asks for it


@dataclass(frozen=True, kw_only=True)
class Diff:
    max_abs: float
    relative: float  # max_abs / scale
    scale: float  # max |reference|
    compared: int  # number of values compared

    @staticmethod
    def of(ours: FloatArray, reference: FloatArray) -> Diff:
        if ours.shape != reference.shape:
            raise YoloParityError(f"shape {ours.shape} != OpenCV's {reference.shape}")
        if ours.size == 0:
            return Diff(max_abs=0.0, relative=0.0, scale=0.0, compared=0)
        max_abs = float(np.max(np.abs(ours.astype(np.float64) - reference)))
        scale = float(np.max(np.abs(reference)))
        relative = max_abs / scale if scale else max_abs
        return Diff(max_abs=max_abs, relative=relative, scale=scale, compared=int(ours.size))


@dataclass(frozen=True, kw_only=True)
class HeadParity:
    output: str  # our ONNX output, yolo_<k>
    opencv_raw_layer: str  # OpenCV layer whose output is the raw conv map
    opencv_region_layer: str  # OpenCV Region layer (decoded)
    raw: Diff
    boxes: Diff  # decoded x, y, w, h, objectness
    scores: Diff  # decoded class scores, where OpenCV's NMS kept them
    nms_suppressed: int  # class scores OpenCV zeroed by NMS (not compared)


@dataclass(frozen=True, kw_only=True)
class ParityReport:
    heads: tuple[HeadParity, ...]

    @property
    def max_abs(self) -> float:
        return max(max(h.raw.max_abs, h.boxes.max_abs, h.scores.max_abs) for h in self.heads)


def make_input(config: DarknetConfig, batch: int = 1, seed: int = 0) -> FloatArray:
    """A blobFromImages batch of random BGR uint8 images: RGB (swapRB), x 1/255, NCHW float32."""
    rng = np.random.default_rng(seed)
    net = config.net
    images = [rng.integers(0, 256, (net.height + 7, net.width + 5, 3), dtype=np.uint8) for _ in range(batch)]
    blob = cv2.dnn.blobFromImages(images, 1.0 / 255.0, (net.width, net.height), swapRB=True, crop=False)
    return np.ascontiguousarray(blob, dtype=np.float32)


def run_onnx(model_bytes: bytes, blob: FloatArray) -> dict[str, FloatArray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: blob}), strict=True))


def decode_like_opencv(
    raw: FloatArray, head: YoloOutput, input_hw: tuple[int, int], thresh: float
) -> FloatArray:
    """Our raw [N, A*(5+C), h, w] map decoded into OpenCV's Region layout [N, h*w*A, 5+C] (no NMS):
    the API's decoder (contracts.yolo), normalised to the input size, scores zeroed at <= thresh."""
    out = decode_darknet_head(
        raw, anchors=head.anchors, classes=head.classes, scale_x_y=head.scale_x_y, input_hw=input_hw
    )
    out[..., 0:4] /= np.array([input_hw[1], input_hw[0], input_hw[1], input_hw[0]], dtype=np.float64)
    out[..., 5:] = np.where(out[..., 5:] > thresh, out[..., 5:], 0.0)
    return out.astype(np.float32)


def _opencv_raw_layer(layer_names: list[str], yolo: YoloSection) -> str:
    """The OpenCV layer feeding "permute_<i>": the one created just before it."""
    permute = f"permute_{yolo.index}"
    if permute not in layer_names or layer_names.index(permute) == 0:
        raise YoloParityError(f"OpenCV net has no '{permute}' layer; its names: {layer_names}")
    return layer_names[layer_names.index(permute) - 1]


def compare_with_opencv(
    config: DarknetConfig,
    weights_path: Path,
    model_bytes: bytes,
    contract: DecodingContract,
    blob: FloatArray,
) -> ParityReport:
    net = cv2.dnn.readNetFromDarknet(config.source, str(weights_path))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    names = list(net.getLayerNames())
    yolos = config.yolo_layers
    raw_layers = [_opencv_raw_layer(names, yolo) for yolo in yolos]
    region_layers = [f"yolo_{yolo.index}" for yolo in yolos]
    net.setInput(blob)
    blobs = net.forward(raw_layers + region_layers)
    opencv = {
        name: np.asarray(blob, dtype=np.float32)
        for name, blob in zip(raw_layers + region_layers, blobs, strict=True)
    }
    ours = run_onnx(model_bytes, blob)
    input_hw = (config.net.height, config.net.width)
    heads = []
    for yolo, head, raw_layer, region_layer in zip(
        yolos, contract.outputs, raw_layers, region_layers, strict=True
    ):
        thresh = OPENCV_DEFAULT_THRESH if yolo.thresh is None else yolo.thresh
        nms = OPENCV_DEFAULT_NMS if yolo.nms_threshold is None else yolo.nms_threshold
        decoded = decode_like_opencv(ours[head.name], head, input_hw, thresh)
        reference = opencv[region_layer].reshape(decoded.shape)
        ours_scores, ref_scores = decoded[..., 5:], reference[..., 5:]
        # Scores within 1e-5 of thresh may flip either way; NMS-zeroed ones are not ours to match.
        keep = np.abs(ours_scores - thresh) > 1e-5
        suppressed = (ref_scores == 0) & (ours_scores > 0) & keep if nms > 0 else np.zeros_like(keep)
        keep &= ~suppressed
        heads.append(
            HeadParity(
                output=head.name,
                opencv_raw_layer=raw_layer,
                opencv_region_layer=region_layer,
                raw=Diff.of(ours[head.name], opencv[raw_layer]),
                boxes=Diff.of(decoded[..., :5], reference[..., :5]),
                scores=Diff.of(ours_scores[keep], ref_scores[keep]),
                nms_suppressed=int(suppressed.sum()),
            )
        )
    report = ParityReport(heads=tuple(heads))
    for h in heads:
        logger.info(
            "%s vs OpenCV %s/%s: raw max|d| %.3g (rel %.3g), boxes %.3g (rel %.3g), scores %.3g "
            "(%d NMS-zeroed)",
            h.output,
            h.opencv_raw_layer,
            h.opencv_region_layer,
            h.raw.max_abs,
            h.raw.relative,
            h.boxes.max_abs,
            h.boxes.relative,
            h.scores.max_abs,
            h.nms_suppressed,
        )
    return report


def check_parity(
    config: DarknetConfig,
    weights_path: Path,
    model_bytes: bytes,
    contract: DecodingContract,
    *,
    batch: int = 1,
    seed: int = 0,
    atol: float = 1e-4,
    rtol: float = 1e-4,
) -> ParityReport:
    """compare_with_opencv on a random blob; YoloParityError where max |diff| > atol + rtol * max |ref|."""
    report = compare_with_opencv(config, weights_path, model_bytes, contract, make_input(config, batch, seed))
    for h in report.heads:
        for what, diff in (("raw", h.raw), ("boxes", h.boxes), ("scores", h.scores)):
            if diff.max_abs > atol + rtol * diff.scale:
                raise YoloParityError(
                    f"{config.source}: {h.output} {what} differ from OpenCV's {h.opencv_raw_layer}/"
                    f"{h.opencv_region_layer}: max |diff| {diff.max_abs:.3g}, relative {diff.relative:.3g}"
                )
    return report
