"""YOLO family: Darknet cfg+weights through the CLI, served, equal to OpenCV's Darknet importer;
and an already-exported YOLOv8-style ONNX."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from modelserve.cli.export import app as export_app
from modelserve.client import TritonClient
from modelserve.export.darknet.cfg import load_cfg
from modelserve.export.darknet.parity import _opencv_raw_layer, make_input
from modelserve.export.darknet.weights import random_weights, write_weights
from tests.helpers import fake_yolov8

pytestmark = pytest.mark.integration
TINY_CFG = Path(__file__).resolve().parents[1] / "data" / "darknet" / "tiny-small.cfg"


def test_darknet_export_is_served_with_opencvs_raw_outputs(server, repository, tmp_path):
    root, _ = repository
    config = load_cfg(TINY_CFG)
    weights = tmp_path / "tiny.weights"
    write_weights(weights, random_weights(config, seed=7))
    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\nbird\n")
    args = ["darknet", str(TINY_CFG), str(weights), "-n", "yolo_tiny", "--names", str(names), "-r", str(root)]
    result = CliRunner().invoke(export_app, [*args, "--random-weights"])  # made by random_weights() above
    assert result.exit_code == 0, result.output
    blob = make_input(config, batch=2, seed=11)  # fresh images, not the export's parity input
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("yolo_tiny")
        served = client.infer("yolo_tiny", {"images": blob})
    net = cv2.dnn.readNetFromDarknet(str(TINY_CFG), str(weights))
    layers = [_opencv_raw_layer(list(net.getLayerNames()), y) for y in config.yolo_layers]
    net.setInput(blob)
    reference = net.forward(layers)
    for k, ref in enumerate(reference):
        np.testing.assert_allclose(served[f"yolo_{k}"], ref, atol=1e-4, rtol=1e-4)
    meta = json.loads((root / "yolo_tiny" / "1" / "modelserve.json").read_text())
    assert meta["kind"] == "detection" and meta["decoding"]["layout"] == "darknet_v3_raw"
    assert meta["decoding"]["class_names"] == ["cat", "dog", "bird"]
    assert [o["stride"] for o in meta["decoding"]["outputs"]] == [32, 16]
    assert meta["provenance"]["weights"] == "random" and meta["provenance"]["source"] == str(weights)
    assert meta["provenance"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_weights_that_do_not_fit_the_cfg_are_refused_and_nothing_is_written(repository, tmp_path):
    root, _ = repository
    weights = tmp_path / "short.weights"
    weights.write_bytes(b"\x00" * 100)
    result = CliRunner().invoke(
        export_app,
        ["darknet", str(TINY_CFG), str(weights), "-n", "yolo_bad", "--names", str(TINY_CFG), "-r", str(root)],
    )
    assert result.exit_code == 1 and "error:" in result.output
    assert not (root / "yolo_bad").exists()


def test_yolov8_style_onnx_is_accepted_and_served(server, repository, tmp_path):
    root, _ = repository
    path = tmp_path / "v8.onnx"
    onnx.save(fake_yolov8(classes=80, size=64), str(path))
    result = CliRunner().invoke(
        export_app, ["yolov8", str(path), "-n", "yolo_v8", "-r", str(root), "--random-weights"]
    )
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    with TritonClient(server.endpoints.http_url, protocol="http") as client:
        client.load("yolo_v8")
        out = client.infer("yolo_v8", {"images": x})["output0"]
    assert out.shape == (1, 84, 84)
    meta = json.loads((root / "yolo_v8" / "1" / "modelserve.json").read_text())
    assert meta["decoding"]["layout"] == "yolov8" and meta["decoding"]["class_names"][0] == "person"
