"""Every numeric type through an ONNX model, over HTTP JSON, the binary extension and gRPC."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from tests.conformance.kserve import infer_binary, post_json, request
from tests.conformance.models import NUMERIC_TYPES

pytestmark = pytest.mark.integration


def _values(name: str, dtype: type) -> np.ndarray:
    """Two rows that reach each type's extremes, so a narrowing or sign slip shows."""
    if dtype is np.bool_:
        return np.array([[True, False, True], [False, True, False]])
    if np.issubdtype(dtype, np.integer):
        ints = np.iinfo(dtype)
        return np.array([[ints.min, 0, ints.max], [1, ints.max - 1, ints.min + 1]], dtype=dtype)
    floats = np.finfo(dtype)
    return np.array([[floats.min, -0.0, floats.max], [1.5, float(floats.tiny), np.pi]], dtype=dtype)


INPUTS = {f"IN_{n}": (n, _values(n, dtype)) for n, (_, dtype) in NUMERIC_TYPES.items()}


def test_every_numeric_type_survives_the_binary_extension_bit_for_bit(triton):
    answer, out = infer_binary(f"http://{triton.endpoints.http_url}", "all_types", INPUTS)
    assert answer.status == 200
    for name, (_, array) in INPUTS.items():
        got = out[name.replace("IN_", "OUT_")]
        assert got.dtype == array.dtype, name
        np.testing.assert_array_equal(got, array, err_msg=name)


def test_every_numeric_type_survives_grpc(triton):
    inputs = []
    for name, (datatype, array) in INPUTS.items():
        tensor = grpcclient.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    with grpcclient.InferenceServerClient(triton.endpoints.grpc_url) as client:
        result = client.infer("all_types", inputs)
    for name, (_, array) in INPUTS.items():
        np.testing.assert_array_equal(result.as_numpy(name.replace("IN_", "OUT_")), array, err_msg=name)


def test_json_carries_every_type_but_fp16_which_goes_binary_in_the_same_request(triton):
    """Triton's HTTP front end refuses FP16 in JSON; a request may mix JSON data and binary tensors."""
    base = f"http://{triton.endpoints.http_url}/v2/models/all_types/infer"
    as_json = {k: v for k, v in INPUTS.items() if v[0] != "FP16"}
    fp16 = INPUTS["IN_FP16"][1]
    inputs = [
        {"name": name, "shape": list(array.shape), "datatype": datatype, "data": array.ravel().tolist()}
        for name, (datatype, array) in as_json.items()
    ]
    refused = post_json(base, {"inputs": [*inputs, {**inputs[0], "name": "IN_FP16", "datatype": "FP16"}]})
    assert refused.status == 400 and "FP16 data via JSON is not supported" in refused.json()["error"]

    binary = {"name": "IN_FP16", "shape": [2, 3], "datatype": "FP16", "parameters": {"binary_data_size": 12}}
    outputs = [{"name": n.replace("IN_", "OUT_"), "parameters": {"binary_data": False}} for n in as_json]
    head = json.dumps({"inputs": [*inputs, binary], "outputs": outputs}).encode()
    answer = request(
        base,
        head + fp16.tobytes(),
        {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))},
    )
    assert answer.status == 200
    got = {o["name"]: o for o in answer.json()["outputs"]}
    for name, (datatype, array) in as_json.items():
        out = got[name.replace("IN_", "OUT_")]
        assert out["datatype"] == datatype and out["shape"] == [2, 3]
        np.testing.assert_array_equal(
            np.array(out["data"], dtype=array.dtype).reshape(2, 3), array, err_msg=name
        )
