"""The Keras side of a vision export, run in its own process (``python -m modelserve.export.keras_source``).

Why a child process: tf2onnx with protobuf's default (upb) backend keeps a copy of all weights per
optimizer pass (VGG16 went past 23 GB); the pure-python backend frees them (12 GB), but it only
takes effect before protobuf is first imported, which the CLI has long done. The child also keeps
TensorFlow out of the serving processes.

It builds the Keras model, converts a ``tf.function`` with ``tf2onnx.convert.from_function``
(``from_keras`` breaks on Keras 3 Sequential models), bakes Keras' own "caffe" preprocessing into
the graph (so the graph takes RGB 0..255), and saves the reference answer of Keras itself
(``preprocess_input`` + ``model``) on random images for the parent's parity check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OPSET = 17  # tf2onnx 1.17 converts opsets <= 18
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
ARCHS = ("resnet50", "vgg16", "tiny")
WEIGHTS_HINT = "place the file Keras downloads in $KERAS_HOME/models/ or pass --weights FILE.weights.h5"


class SourceError(Exception):
    """A model that cannot be built from what was given; the message is the user's one line."""


def build(arch: str, variant: str, weights: str) -> Any:
    import keras

    top = variant == "classifier"
    if arch == "tiny" and weights == "imagenet":
        raise SourceError("the tiny test CNN has no ImageNet weights; use random or a .weights.h5 file")
    # Keras downloads "imagenet" itself; a file is loaded below, after the model is built.
    kwargs: dict[str, Any] = {"weights": "imagenet" if weights == "imagenet" else None, "include_top": top}
    if not top:
        kwargs.update(pooling="avg", input_shape=(224, 224, 3))
    try:
        if arch == "resnet50":
            model = keras.applications.ResNet50(**kwargs)
        elif arch == "vgg16":
            model = keras.applications.VGG16(**kwargs)
        else:
            model = _tiny(top)
    except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...") offline
        if str(exc).startswith("URL fetch failure") or "Name or service not known" in str(exc):
            raise SourceError(
                f"Keras could not download the ImageNet weights for {arch} (offline?); {WEIGHTS_HINT}"
            ) from exc
        raise
    if weights not in ("random", "imagenet"):
        path = Path(weights)
        if not path.is_file():
            raise SourceError(f"{path}: no such weights file")
        if not path.name.endswith(".weights.h5"):
            raise SourceError(f"{path}: Keras 3 weights files end in .weights.h5")
        try:
            model.load_weights(str(path))
        except ValueError as exc:
            # Keras' message runs over several lines ("...for object <Dense ...>:" then the reason).
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise SourceError(f"{path} does not fit {arch} ({variant}): {reason[:400]}") from exc
    return model


def imagenet_file(arch: str, top: bool) -> Path | None:
    """The ImageNet weights file Keras loaded, for the provenance's digest: Keras caches it as
    ``<KERAS_HOME or ~/.keras>/models/<name>`` (``/tmp/.keras`` where those are not writable)."""
    name = f"{arch}_weights_tf_dim_ordering_tf_kernels{'' if top else '_notop'}.h5"
    home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
    homes = (home, os.path.join(tempfile.gettempdir(), ".keras"))
    return next((p for home in homes if (p := Path(home) / "models" / name).is_file()), None)


def _tiny(top: bool) -> Any:
    """A small functional CNN with the same head shapes (1000 classes / pooled embedding)."""
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if top:
        x = keras.layers.Dense(1000, activation="softmax")(x)
    return keras.Model(inputs, x, name="tiny")


def convert(model: Any, output_name: str) -> Any:
    import tensorflow as tf
    import tf2onnx

    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="images")

    def serve(images: Any) -> dict[str, Any]:
        # Constants are made inside the traced function: captured eager tensors become graph inputs.
        x = tf.reverse(images, axis=[-1]) - tf.constant(CAFFE_BGR_MEAN, tf.float32)
        return {output_name: model(x, training=False)}

    proto, _ = tf2onnx.convert.from_function(tf.function(serve), input_signature=[spec], opset=OPSET)
    for value in [*proto.graph.input, *proto.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_param = "batch"
    proto.graph.name = model.name
    return proto


def reference(model: Any, images: Any) -> Any:
    """Keras' own preprocessing and forward pass: what the ONNX graph must reproduce."""
    import keras

    x = keras.applications.imagenet_utils.preprocess_input(images.copy(), mode="caffe")
    return model(x, training=False).numpy()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=ARCHS, required=True)
    parser.add_argument("--variant", choices=("classifier", "features"), required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    import numpy as np
    import onnx

    try:
        model = build(args.arch, args.variant, args.weights)
    except SourceError as exc:
        (args.out / "error.json").write_text(json.dumps({"error": str(exc)}))
        return 2
    output = "probabilities" if args.variant == "classifier" else "embedding"
    onnx.save(convert(model, output), str(args.out / "model.onnx"))
    size = tuple(int(d) for d in model.input_shape[1:])
    images = np.random.default_rng(0).uniform(0, 255, (args.samples, *size)).astype(np.float32)
    np.savez(args.out / "reference.npz", images=images, expected=reference(model, images))
    import keras
    import tensorflow as tf
    import tf2onnx

    info = {
        "output": output,
        "input_shape": list(size),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "tf2onnx": tf2onnx.__version__,
        "opset": OPSET,
    }
    if args.weights == "imagenet":
        found = imagenet_file(args.arch, args.variant == "classifier")
        info["weights_file"] = str(found) if found is not None else None
    (args.out / "info.json").write_text(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
