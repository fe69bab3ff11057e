"""Detection and enhancement routes through the real API (and Triton for detection), compared with
a plain OpenCV pipeline on the same image file."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.export.darknet.cfg import load_cfg
from modelserve.export.darknet.weights import random_weights, write_weights
from modelserve.families.detection.exporter import export_darknet, export_yolov8
from modelserve.serving.settings import ApiSettings
from tests.helpers import fake_yolov8
from tests.integration.test_export_yolo import TINY_CFG

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def setup(server, repository, tmp_path_factory):
    root, _ = repository
    tmp = tmp_path_factory.mktemp("detect_api")
    weights = tmp / "tiny.weights"
    write_weights(weights, random_weights(load_cfg(TINY_CFG), seed=21))
    names = tmp / "names.txt"
    names.write_text("cat\ndog\nbird\n")
    export_darknet(root, "api_yolo", TINY_CFG, weights, names=names, random_weights=True)
    onnx.save(fake_yolov8(classes=80, size=64), str(tmp / "v8.onnx"))
    export_yolov8(root, "api_yolo8", tmp / "v8.onnx", random_weights=True)
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("api_yolo")
        client.load("api_yolo8")
    image = Image.fromarray(np.random.default_rng(4).integers(0, 255, (150, 220, 3), dtype=np.uint8))
    path = tmp / "street.png"
    image.save(path)
    return root, weights, path


def _imread(path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None
    return img


def _api(server, root):
    return TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root)))


def _opencv_detections(weights, path, confidence, iou):
    """Detection with OpenCV's Darknet importer: threshold on the best class, boxes, NMS."""
    net = cv2.dnn.readNetFromDarknet(str(TINY_CFG), str(weights))
    img = _imread(path)
    height, width = img.shape[:2]
    net.setInput(cv2.dnn.blobFromImage(img, 1 / 255.0, (160, 160), (0, 0, 0), swapRB=True, crop=False))
    boxes, confs, ids = [], [], []
    for output in net.forward(net.getUnconnectedOutLayersNames()):
        for row in output.reshape(-1, output.shape[-1]):
            scores = row[5:]
            cid = int(np.argmax(scores))
            if scores[cid] > confidence:
                cx, cy, w, h = row[0] * width, row[1] * height, row[2] * width, row[3] * height
                # Boxes end at the image's edges; a box wholly outside it is no detection.
                x0, y0 = np.clip(cx - w / 2, 0, width), np.clip(cy - h / 2, 0, height)
                x1, y1 = np.clip(cx + w / 2, 0, width), np.clip(cy + h / 2, 0, height)
                if x1 <= x0 or y1 <= y0:
                    continue
                boxes.append([x0, y0, x1 - x0, y1 - y0])
                confs.append(float(scores[cid]))
                ids.append(cid)
    keep = np.asarray(cv2.dnn.NMSBoxes(boxes, confs, confidence, iou), dtype=int).reshape(-1)
    return sorted(((ids[i], confs[i], *boxes[i]) for i in keep), key=lambda d: -d[1])


def test_detections_match_an_opencv_reference_pipeline(server, setup):
    root, weights, path = setup
    expected = _opencv_detections(weights, path, 0.3, 0.4)
    assert expected, "the random model should detect something at 0.3, else this proves little"
    with _api(server, root) as api:
        resp = api.post(
            "/v1/vision/api_yolo/detect?confidence=0.3&iou=0.4",
            content=path.read_bytes(),
            headers={"content-type": "image/png"},
        )
    assert resp.status_code == 200, resp.text
    got = [(d["class_id"], d["confidence"], *d["box"].values()) for d in resp.json()["detections"]]
    assert len(got) == len(expected)
    np.testing.assert_allclose(np.array(got), np.array(expected), atol=1e-3, rtol=1e-5)
    assert {d["label"] for d in resp.json()["detections"]} <= {"cat", "dog", "bird"}


def test_yolov8_layout_detects_within_the_image(server, setup):
    root, _, path = setup
    with _api(server, root) as api:
        resp = api.post(
            "/v1/vision/api_yolo8/detect?confidence=0.6", files={"image": ("s.png", path.read_bytes())}
        )
    assert resp.status_code == 200, resp.text
    dets = resp.json()["detections"]
    assert dets and all(d["confidence"] > 0.6 for d in dets)
    for d in dets:
        box = d["box"]
        assert box["x"] >= 0 and box["x"] + box["width"] <= 220 and box["width"] > 0
        assert box["y"] >= 0 and box["y"] + box["height"] <= 150 and box["height"] > 0
    assert [d["confidence"] for d in dets] == sorted((d["confidence"] for d in dets), reverse=True)


@pytest.mark.parametrize("kind", ["sharpen", "denoise", "brightness"])
def test_enhance_equals_direct_opencv_calls(server, setup, kind):
    root, _, path = setup
    img = _imread(path)
    expected = {
        "sharpen": lambda: cv2.filter2D(img, -1, np.array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]])),
        "denoise": lambda: cv2.fastNlMeansDenoisingColored(img, None, 10, 10, 7, 21),
        "brightness": lambda: cv2.convertScaleAbs(img, alpha=1.2, beta=30),
    }[kind]()
    with _api(server, root) as api:
        resp = api.post(f"/v1/vision/enhance?kind={kind}", content=path.read_bytes())
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    got = cv2.imdecode(np.frombuffer(resp.content, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(got, expected)


def test_detection_errors(server, setup):
    root, _, path = setup
    with _api(server, root) as api:
        not_detector = api.post("/v1/vision/iris_rf/detect", content=path.read_bytes())
        bad_threshold = api.post("/v1/vision/api_yolo/detect?confidence=2", content=path.read_bytes())
        bad_kind = api.post("/v1/vision/enhance?kind=blur", content=path.read_bytes())
    assert not_detector.status_code == 404
    assert bad_threshold.status_code == 422 and bad_kind.status_code == 422
