"""Darknet cfg/weights -> ONNX: parsing, weights I/O, OpenCV parity, dynamic batch, YOLOv8 contract."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from modelserve.export.darknet.cfg import (
    ConvSection,
    MaxPoolSection,
    RouteSection,
    YoloSection,
    infer_shapes,
    load_cfg,
    parse_cfg,
)
from modelserve.export.darknet.coco import COCO80_NAMES, DARKNET_SPELLINGS
from modelserve.export.darknet.graph import build_onnx
from modelserve.export.darknet.parity import check_parity, make_input, run_onnx
from modelserve.export.darknet.weights import (
    expected_float_count,
    random_weights,
    read_weights,
    write_weights,
)
from modelserve.export.darknet.yolov8 import inspect_yolov8
from modelserve.export.errors import DarknetFormatError, YoloContractError
from tests.helpers import fake_yolov8

CFG = Path(__file__).resolve().parents[1] / "data" / "darknet"
TINY, FEATURES, FULL = CFG / "tiny-small.cfg", CFG / "features.cfg", CFG / "yolov3-tiny.cfg"


def _export(cfg_path: Path, tmp_path: Path, seed: int = 0):
    config = load_cfg(cfg_path)
    weights_path = tmp_path / f"{cfg_path.stem}.weights"
    write_weights(weights_path, random_weights(config, seed))
    model, contract = build_onnx(config, read_weights(weights_path, config))
    return config, weights_path, model, contract


def test_parse_tiny_layout():
    config = load_cfg(TINY)
    assert (config.net.width, config.net.height, config.net.channels) == (160, 160, 3)
    assert len(config.layers) == 24
    pool = config.layers[11]
    assert isinstance(pool, MaxPoolSection) and (pool.size, pool.stride, pool.padding) == (2, 1, 1)
    routes = [layer for layer in config.layers if isinstance(layer, RouteSection)]
    assert [r.layers for r in routes] == [(13,), (19, 8)]  # -4 and -1, 8 resolved
    yolos = config.yolo_layers
    assert [y.mask for y in yolos] == [(3, 4, 5), (0, 1, 2)] and yolos[0].classes == 3
    assert yolos[0].masked_anchors == ((32.0, 33.0), (54.0, 68.0), (138.0, 128.0))
    shapes = infer_shapes(config)
    assert (shapes[11].height, shapes[15].height, shapes[22].height) == (5, 5, 10)


def test_full_yolov3_tiny_matches_the_published_weights_size():
    config = load_cfg(FULL)
    shapes = infer_shapes(config)
    assert [(shapes[y.index].channels, shapes[y.index].height) for y in config.yolo_layers] == [
        (255, 13),
        (255, 26),
    ]
    # darknet's yolov3-tiny.weights is 35,434,956 bytes: 20-byte header + 8,858,734 float32.
    assert expected_float_count(config) == 8_858_734


def test_weights_round_trip(tmp_path: Path):
    config = load_cfg(FEATURES)
    original = random_weights(config, seed=3)
    path = tmp_path / "w.weights"
    write_weights(path, original)
    assert path.stat().st_size == 20 + 4 * expected_float_count(config)
    loaded = read_weights(path, config)
    assert loaded.header == original.header
    for a, b in zip(original.convs, loaded.convs, strict=True):
        assert a.layer_index == b.layer_index and a.kernel.shape == b.kernel.shape
        np.testing.assert_array_equal(a.kernel, b.kernel)
        np.testing.assert_array_equal(a.biases, b.biases)
        assert (a.batch_norm is None) == (b.batch_norm is None)
        if a.batch_norm is not None and b.batch_norm is not None:
            np.testing.assert_array_equal(a.batch_norm.rolling_var, b.batch_norm.rolling_var)
    assert loaded.convs[3].kernel.shape == (16, 4, 3, 3)  # groups=2 on 8 input channels


def test_old_header_has_int32_seen(tmp_path: Path):
    config = load_cfg(TINY)
    body = np.zeros(expected_float_count(config), dtype="<f4").tobytes()
    path = tmp_path / "old.weights"
    path.write_bytes(struct.pack("<4i", 0, 1, 0, 1234) + body)
    assert read_weights(path, config).header.seen == 1234


@pytest.mark.parametrize(("delta", "words"), [(-4, "too short"), (8, "too long"), (2, "stray bytes")])
def test_wrong_size_weights(tmp_path: Path, delta: int, words: str):
    config = load_cfg(TINY)
    path = tmp_path / "w.weights"
    write_weights(path, random_weights(config))
    data = path.read_bytes()
    path.write_bytes(data[:delta] if delta < 0 else data + b"\0" * delta)
    with pytest.raises(DarknetFormatError, match=words) as info:
        read_weights(path, config)
    assert f"needs {expected_float_count(config)} float32" in str(info.value)


def test_parity_with_opencv_tiny(tmp_path: Path):
    config, weights_path, model, contract = _export(TINY, tmp_path)
    report = check_parity(config, weights_path, model.SerializeToString(), contract, atol=1e-5, rtol=1e-5)
    assert [(h.opencv_raw_layer, h.opencv_region_layer) for h in report.heads] == [
        ("conv_15", "yolo_16"),
        ("conv_22", "yolo_23"),
    ]
    assert report.max_abs < 1e-5


def test_parity_with_opencv_shortcut_groups_mish_scale_xy(tmp_path: Path):
    config, weights_path, model, contract = _export(FEATURES, tmp_path, seed=7)
    report = check_parity(
        config, weights_path, model.SerializeToString(), contract, batch=2, atol=1e-5, rtol=1e-5
    )
    assert report.max_abs < 1e-5
    assert contract.outputs[0].scale_x_y == pytest.approx(1.05) and contract.outputs[0].stride == 8


def test_parity_with_opencv_full_yolov3_tiny_416(tmp_path: Path):
    config, weights_path, model, contract = _export(FULL, tmp_path)
    report = check_parity(config, weights_path, model.SerializeToString(), contract, atol=1e-4, rtol=1e-5)
    assert [h.raw.compared for h in report.heads] == [255 * 13 * 13, 255 * 26 * 26]
    assert [o.stride for o in contract.outputs] == [32, 16]


def test_dynamic_batch_matches_single_items(tmp_path: Path):
    config, _, model, contract = _export(TINY, tmp_path)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    data = model.SerializeToString()
    blob = make_input(config, batch=2, seed=5)
    both = run_onnx(data, blob)
    for item in range(2):
        single = run_onnx(data, blob[item : item + 1])
        for head in contract.outputs:
            assert both[head.name].shape[0] == 2
            np.testing.assert_allclose(both[head.name][item : item + 1], single[head.name], rtol=0, atol=1e-6)


def test_weights_of_another_cfg_are_rejected():
    with pytest.raises(DarknetFormatError, match="do not fit the cfg"):
        build_onnx(load_cfg(TINY), random_weights(load_cfg(FULL)))


def test_graph_details_and_contract(tmp_path: Path):
    _, _, model, contract = _export(TINY, tmp_path)
    assert model.opset_import[0].version == 17 and model.ir_version == 8
    pools = [n for n in model.graph.node if n.op_type == "MaxPool"]
    pads = {tuple(a.ints) for n in pools for a in n.attribute if a.name == "pads"}
    assert pads == {(0, 0, 1, 1)}  # size 2: darknet pads 0 before, 1 after (stride 1 and 2)
    assert not [n for n in model.graph.node if n.op_type == "BatchNormalization"]  # folded
    as_dict = json.loads(json.dumps(contract.to_dict()))
    assert as_dict["layout"] == "darknet_v3_raw"
    assert [(o["name"], o["stride"], o["grid"], o["channels"]) for o in as_dict["outputs"]] == [
        ("yolo_0", 32, [5, 5], 24),
        ("yolo_1", 16, [10, 10], 24),
    ]
    assert "sigmoid" in as_dict["note"] and "exp" in as_dict["note"]


_NET = "[net]\nwidth=32\nheight=32\n"
_CONV = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (_NET + "[reorg]\nstride=2\n", r"<string>:4: \[reorg\] unsupported section type"),
        (_NET + _CONV.replace("leaky", "swish"), r":4: \[convolutional\] unsupported activation 'swish'"),
        (
            _NET + _CONV.replace("filters=8", "filters=eight"),
            r":5: \[convolutional\] filters='eight' is not a num",
        ),
        (_NET + _CONV + "dilation=2\n", r"\[convolutional\] dilation is not supported"),
        (_NET + _CONV + "bogus=1\n", r":10: \[convolutional\] unsupported key 'bogus'"),
        (_NET + _CONV + "[route]\nlayers=-3\n", r":10: \[route\] layers=-3 resolves to layer -2"),
        (_NET + "[maxpool]\nsize=2\n", r":4: \[maxpool\] missing required key 'stride'"),
        (
            _NET + _CONV + "[yolo]\nmask=0,5\nanchors=1,2,3,4\nnum=2\nclasses=1\n",
            r"mask \[0, 5\] must index 0\.\.1",
        ),
        (
            _NET + _CONV + "[yolo]\nanchors=1,2\nnum=1\nclasses=1\n",
            r"input has 8 channels, mask x \(5\+classes\) = 6",
        ),
        ("width=3\n" + _NET, r"<string>:1: before any section: expected key=value"),
        (_NET + _CONV + "filters=4\n", r":10: \[convolutional\] duplicate key 'filters' \(first on line 5\)"),
        (_NET + "[convolutional\n", r":4: malformed section header"),
    ],
)
def test_malformed_cfg(text: str, pattern: str):
    with pytest.raises(DarknetFormatError, match=pattern):
        parse_cfg(text)


def test_conv_layers_and_training_keys_are_tolerated():
    config = parse_cfg(_NET + _CONV.replace("pad=1", "pad=0\npadding=2") + "# comment\n")
    conv = config.layers[0]
    assert isinstance(conv, ConvSection) and conv.padding == 2 and infer_shapes(config)[0].height == 34
    assert isinstance(load_cfg(FULL).layers[-1], YoloSection)  # jitter/ignore_thresh/... ignored


def test_yolov8_contract(tmp_path: Path):
    model = fake_yolov8(classes=80, size=64)
    path = tmp_path / "v8.onnx"
    onnx.save(model, str(path))
    contract = inspect_yolov8(path)
    assert (contract.classes, contract.num_boxes, contract.input_shape) == (80, 84, (3, 64, 64))
    assert contract.strides == (8, 16, 32) and contract.batch is None
    assert json.loads(json.dumps(contract.to_dict()))["outputs"][0]["shape"] == [-1, 84, 84]
    outputs = run_onnx(model.SerializeToString(), np.zeros((2, 3, 64, 64), dtype=np.float32))
    assert outputs["output0"].shape == (2, 84, 84)  # the declared shape is what the graph computes


def test_yolov8_contract_rejects_other_layouts():
    with pytest.raises(YoloContractError, match="transposed"):
        inspect_yolov8(fake_yolov8(classes=80, size=128, transposed=True))
    model = fake_yolov8()
    model.graph.output.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]))
    with pytest.raises(YoloContractError, match="expected 1 input and 1 output"):
        inspect_yolov8(model)
    with pytest.raises(YoloContractError, match="cannot read ONNX"):
        inspect_yolov8(b"not an onnx file")


def test_coco_names():
    assert len(COCO80_NAMES) == len(set(COCO80_NAMES)) == 80
    assert (COCO80_NAMES[0], COCO80_NAMES[2], COCO80_NAMES[79]) == ("person", "car", "toothbrush")
    assert set(DARKNET_SPELLINGS) <= set(COCO80_NAMES)
