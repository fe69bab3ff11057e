"""Vision routes through the real API and Triton, compared with Keras' own image loading,
preprocessing and model on the same image file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.families.vision.exporter import export_keras_vision
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exported(server, repository, tmp_path_factory):
    import keras

    from modelserve.export.keras_source import build

    root, _ = repository
    tmp = tmp_path_factory.mktemp("vision_api")
    models = {}
    for variant in ("classifier", "features"):
        model = build("tiny", variant, "random")
        model.save_weights(str(tmp / f"{variant}.weights.h5"))
        export_keras_vision(
            root,
            f"api_tiny_{variant}",
            "tiny",
            variant=variant,
            weights=str(tmp / f"{variant}.weights.h5"),
            random_weights=True,
        )
        models[variant] = model
    with TritonClient(server.endpoints.grpc_url) as client:
        for variant in models:
            client.load(f"api_tiny_{variant}")
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 255, (57, 83, 3), dtype=np.uint8))  # not 32x32: resize matters
    path = tmp / "photo.png"
    image.save(path)
    return root, models, path, keras


def _keras_answer(keras, model, path):
    """The Keras reference: load_img(target_size) -> img_to_array -> preprocess_input -> model."""
    img = keras.utils.img_to_array(keras.utils.load_img(str(path), target_size=model.input_shape[1:3]))
    x = keras.applications.imagenet_utils.preprocess_input(img[None, ...], mode="caffe")
    return model(x, training=False).numpy()[0]


def _api(server, root):
    return TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root)))


def test_classify_matches_keras_on_the_same_image_raw_and_multipart(server, exported):
    root, models, path, keras = exported
    expected = _keras_answer(keras, models["classifier"], path)
    data = path.read_bytes()
    with _api(server, root) as api:
        raw = api.post(
            "/v1/vision/api_tiny_classifier/classify?k=3", content=data, headers={"content-type": "image/png"}
        )
        form = api.post(
            "/v1/vision/api_tiny_classifier/classify?k=3", files={"image": ("p.png", data, "image/png")}
        )
    assert raw.status_code == 200, raw.text
    ids = raw.json().pop("prediction_id"), form.json().pop("prediction_id")
    assert all(ids) and ids[0] != ids[1]  # each answer recorded for monitoring, under its own id
    assert {**raw.json(), "prediction_id": None} == {**form.json(), "prediction_id": None}
    got = raw.json()["predictions"]
    assert [p["index"] for p in got] == list(np.argsort(-expected)[:3])
    np.testing.assert_allclose([p["confidence"] for p in got], np.sort(expected)[::-1][:3], atol=1e-5)
    labels = (root / "api_tiny_classifier" / "labels.txt").read_text().splitlines()
    assert got[0]["label"] == labels[got[0]["index"]]
    # Random weights: ImageNet labels with confidences that mean nothing, and the answer says so.
    assert raw.json()["weights"] == "random" and raw.headers["modelserve-weights"] == "random"


def test_features_match_keras_on_the_same_image(server, exported):
    root, models, path, keras = exported
    with _api(server, root) as api:
        resp = api.post(
            "/v1/vision/api_tiny_features/features",
            content=path.read_bytes(),
            headers={"content-type": "image/png"},
        )
    assert resp.status_code == 200, resp.text
    np.testing.assert_allclose(
        resp.json()["embedding"], _keras_answer(keras, models["features"], path), atol=1e-4
    )


def test_bad_images_and_wrong_models_get_clear_errors(server, exported):
    root, _, path, _ = exported
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, format="GIF")
    with _api(server, root) as api:
        text = api.post(
            "/v1/vision/api_tiny_classifier/classify", content=b"hello", headers={"content-type": "image/png"}
        )
        gif = api.post("/v1/vision/api_tiny_classifier/classify", content=buf.getvalue())
        empty = api.post("/v1/vision/api_tiny_classifier/classify", content=b"")
        wrong = api.post("/v1/vision/api_tiny_features/classify", content=path.read_bytes())
        tabular = api.post("/v1/vision/iris_rf/classify", content=path.read_bytes())
        bad_k = api.post("/v1/vision/api_tiny_classifier/classify?k=0", content=path.read_bytes())
    assert text.status_code == 415 and gif.status_code == 415 and empty.status_code == 400
    assert wrong.status_code == 404 and "not an image-classifier model" in wrong.json()["error"]["message"]
    assert tabular.status_code == 404
    assert bad_k.status_code == 422
