"""KServe v2 over raw HTTP: health, metadata, JSON and binary inference, errors as the protocol says."""

from __future__ import annotations

import numpy as np
import pytest

from modelserve.serve.server import EmbeddedTriton
from tests.conformance.kserve import infer_binary, post_json, request

pytestmark = pytest.mark.integration

A = np.arange(16, dtype=np.int32).reshape(1, 16)
B = np.full((1, 16), 3, dtype=np.int32)


def _base(triton: EmbeddedTriton) -> str:
    return f"http://{triton.endpoints.http_url}"


def test_health_and_server_metadata_follow_the_protocol(triton):
    base = _base(triton)
    assert request(f"{base}/v2/health/live").status == 200
    assert request(f"{base}/v2/health/ready").status == 200
    meta = request(f"{base}/v2").json()
    assert meta["name"] == "triton" and meta["version"] == "2.51.0"
    assert {"binary_tensor_data", "system_shared_memory", "model_repository", "sequence"} <= set(
        meta["extensions"]
    )


def test_model_metadata_lists_tensors_with_the_batch_dim_as_minus_one(triton):
    answer = request(f"{_base(triton)}/v2/models/simple")
    meta = answer.json()
    assert answer.status == 200 and meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [
        {"name": "INPUT0", "datatype": "INT32", "shape": [-1, 16]},
        {"name": "INPUT1", "datatype": "INT32", "shape": [-1, 16]},
    ]
    assert [o["name"] for o in meta["outputs"]] == ["OUTPUT0", "OUTPUT1"]
    assert request(f"{_base(triton)}/v2/models/simple/ready").status == 200


def test_json_inference_answers_sum_and_difference(triton):
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "data": A.ravel().tolist()},
            {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "data": B.ravel().tolist()},
        ],
    }
    answer = post_json(f"{_base(triton)}/v2/models/simple/infer", body)
    result = answer.json()
    assert answer.status == 200 and result["id"] == "req-1" and result["model_name"] == "simple"
    outputs = {o["name"]: o for o in result["outputs"]}
    assert outputs["OUTPUT0"]["data"] == (A + B).ravel().tolist()
    assert outputs["OUTPUT1"]["data"] == (A - B).ravel().tolist()
    assert outputs["OUTPUT0"]["shape"] == [1, 16] and outputs["OUTPUT0"]["datatype"] == "INT32"


def test_json_inference_returns_only_the_requested_output(triton):
    body = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "data": A.ravel().tolist()},
            {"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "data": B.ravel().tolist()},
        ],
        "outputs": [{"name": "OUTPUT1"}],
    }
    result = post_json(f"{_base(triton)}/v2/models/simple/infer", body).json()
    assert [o["name"] for o in result["outputs"]] == ["OUTPUT1"]


def test_binary_data_extension_round_trips_a_batch(triton):
    a = np.arange(48, dtype=np.int32).reshape(3, 16)
    b = np.ones((3, 16), dtype=np.int32)
    answer, out = infer_binary(_base(triton), "simple", {"INPUT0": ("INT32", a), "INPUT1": ("INT32", b)})
    assert answer.status == 200
    np.testing.assert_array_equal(out["OUTPUT0"], a + b)
    np.testing.assert_array_equal(out["OUTPUT1"], a - b)


def test_bytes_tensors_travel_as_json_strings(triton):
    body = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 16], "datatype": "BYTES", "data": [str(v) for v in A.ravel()]},
            {"name": "INPUT1", "shape": [1, 16], "datatype": "BYTES", "data": [str(v) for v in B.ravel()]},
        ]
    }
    answer = post_json(f"{_base(triton)}/v2/models/simple_string/infer", body)
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    assert answer.status == 200 and outputs["OUTPUT0"]["datatype"] == "BYTES"
    assert outputs["OUTPUT0"]["data"] == [str(v) for v in (A + B).ravel()]
    assert outputs["OUTPUT1"]["data"] == [str(v) for v in (A - B).ravel()]


def test_a_missing_input_is_a_400_with_an_error_message(triton):
    body = {"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", "data": A.ravel().tolist()}]}
    answer = post_json(f"{_base(triton)}/v2/models/simple/infer", body)
    assert answer.status == 400
    assert "missing required input(s) ['INPUT1']" in answer.json()["error"]


def test_a_wrong_shape_is_refused_before_the_model_runs(triton):
    body = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 8], "datatype": "INT32", "data": list(range(8))},
            {"name": "INPUT1", "shape": [1, 8], "datatype": "INT32", "data": list(range(8))},
        ]
    }
    answer = post_json(f"{_base(triton)}/v2/models/simple/infer", body)
    error = answer.json()["error"]
    assert (
        answer.status == 400
        and "unexpected shape for input" in error
        and "Expected [-1,16], got [1,8]" in error
    )


def test_an_unknown_model_is_a_404(triton):
    answer = post_json(f"{_base(triton)}/v2/models/no_such_model/infer", {"inputs": []})
    assert answer.status == 404 and "no_such_model" in answer.json()["error"]


def test_model_config_is_served_as_json(triton):
    config = request(f"{_base(triton)}/v2/models/simple_dyna_sequence/config").json()
    assert config["sequence_batching"]["oldest"]["max_candidate_sequences"] == 1024
    assert [c["name"] for c in config["sequence_batching"]["control_input"]] == [
        "START",
        "END",
        "READY",
        "CORRID",
    ]
