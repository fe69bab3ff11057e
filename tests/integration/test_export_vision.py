"""Vision family: Keras models through tf2onnx from the CLI, served, equal to Keras' own answer
(its preprocess_input + model) on the same images; fp16 variant; feature extractor."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from modelserve.cli.export import app as export_app
from modelserve.client import TritonClient

pytestmark = pytest.mark.integration


def _keras_model(arch: str, variant: str, path):
    """A random-weight Keras model saved to ``path``; the export loads the same weights."""
    import keras

    from modelserve.export.keras_source import build

    model = build(arch, variant, "random")
    model.save_weights(str(path))
    return model, keras


def _keras_answer(model, keras, images):
    x = keras.applications.imagenet_utils.preprocess_input(images.copy(), mode="caffe")
    return model(x, training=False).numpy()


def _export_and_serve(server, root, tmp_path, arch, variant, name, extra=()):
    model, keras = _keras_model(arch, variant, tmp_path / f"{arch}.weights.h5")
    args = [
        "vision",
        arch,
        "-n",
        name,
        "--variant",
        variant,
        "--weights",
        str(tmp_path / f"{arch}.weights.h5"),
        "--random-weights",  # a file of Keras' random initialisation: say so
    ]
    result = CliRunner().invoke(export_app, [*args, *extra, "-r", str(root)])
    assert result.exit_code == 0, result.output
    size = model.input_shape[1:]
    images = np.random.default_rng(5).uniform(0, 255, (3, *size)).astype(np.float32)
    return model, keras, images


def test_tiny_classifier_and_its_fp16_variant_serve_keras_answers(server, repository, tmp_path):
    root, _ = repository
    model, keras, images = _export_and_serve(
        server, root, tmp_path, "tiny", "classifier", "tiny_cls", ["--fp16"]
    )
    expected = _keras_answer(model, keras, images)
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("tiny_cls")
        client.load("tiny_cls_fp16")
        fp32 = client.infer("tiny_cls", {"images": images})["probabilities"]
        fp16 = client.infer("tiny_cls_fp16", {"images": images})["probabilities"]
    np.testing.assert_allclose(fp32, expected, atol=1e-5)
    np.testing.assert_allclose(fp16, expected, atol=2e-3)
    assert (root / "tiny_cls" / "labels.txt").read_text().splitlines()[:2] == ["tench", "goldfish"]
    meta = json.loads((root / "tiny_cls_fp16" / "1" / "modelserve.json").read_text())
    assert meta["precision"] == "fp16 (fp32 I/O)" and meta["image"]["channel_order"] == "RGB"
    assert meta["kind"] == "image-classifier" and meta["schema_version"] == 3
    weights_file = tmp_path / "tiny.weights.h5"
    assert meta["provenance"] == {
        "weights": "random",
        "source": str(weights_file),
        "sha256": hashlib.sha256(weights_file.read_bytes()).hexdigest(),
        "files": {},
    }


def test_tiny_feature_extractor_serves_the_pooled_embedding(server, repository, tmp_path):
    root, _ = repository
    model, keras, images = _export_and_serve(server, root, tmp_path, "tiny", "features", "tiny_emb")
    with TritonClient(server.endpoints.http_url, protocol="http") as client:
        client.load("tiny_emb")
        emb = client.infer("tiny_emb", {"images": images})["embedding"]
    np.testing.assert_allclose(emb, _keras_answer(model, keras, images), atol=1e-4, rtol=1e-4)


def test_weights_for_another_model_are_refused_and_nothing_is_written(repository, tmp_path):
    root, _ = repository
    _keras_model("tiny", "features", tmp_path / "features.weights.h5")  # no Dense head: does not fit
    result = CliRunner().invoke(
        export_app,
        [
            "vision",
            "tiny",
            "-n",
            "tiny_bad",
            "--weights",
            str(tmp_path / "features.weights.h5"),
            "-r",
            str(root),
        ],
    )
    assert result.exit_code == 1 and "does not fit tiny" in result.output
    assert not result.output.strip().endswith(":")  # Keras' reason follows on its next lines: kept
    assert not (root / "tiny_bad").exists()


@pytest.mark.slow
@pytest.mark.timeout(900)  # VGG16's conversion alone takes minutes on 2 cores; 300 s is for hangs
@pytest.mark.parametrize("arch", ["resnet50", "vgg16"])
def test_full_size_classifiers_serve_keras_answers(server, repository, tmp_path, arch):
    root, _ = repository
    model, keras, images = _export_and_serve(server, root, tmp_path, arch, "classifier", f"{arch}_full")
    expected = _keras_answer(model, keras, images)
    with TritonClient(server.endpoints.grpc_url, timeout_s=120) as client:
        client.load(f"{arch}_full")
        served = client.infer(f"{arch}_full", {"images": images})["probabilities"]
        client.unload(f"{arch}_full")
    np.testing.assert_allclose(served, expected, atol=1e-4)
    assert (served.argmax(-1) == expected.argmax(-1)).all()


def test_imagenet_weights_offline_fail_with_one_line_naming_the_way_out(repository, tmp_path, monkeypatch):
    root, _ = repository
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached weights: Keras must download
    runner = CliRunner()
    result = runner.invoke(
        export_app, ["vision", "resnet50", "-n", "x", "--weights", "imagenet", "-r", str(root)]
    )
    assert result.exit_code == 1
    assert "could not download the ImageNet weights for resnet50" in result.output
    tiny = runner.invoke(export_app, ["vision", "tiny", "-n", "x", "--weights", "imagenet", "-r", str(root)])
    assert tiny.exit_code == 1 and "no ImageNet weights" in tiny.output
    assert not (root / "x").exists()
