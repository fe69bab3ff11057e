"""BYTES tensors and users' backend "python" models, which the stub under numpy 2 broke: NVIDIA's
simple_string (ONNX) and add_sub (Python) rebuilt, arbitrary bytes, auto_complete_config, BLS,
error responses and an ensemble of an ONNX and a Python step."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from modelserve.serve.server import EmbeddedTriton
from tests.conformance.kserve import infer_binary

pytestmark = pytest.mark.integration
PROTOCOLS = ("http", "grpc")


def _infer(
    triton: EmbeddedTriton, protocol: str, model: str, arrays: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """tritonclient, as NVIDIA's example clients use it."""
    lib = httpclient if protocol == "http" else grpcclient
    url = triton.endpoints.http_url if protocol == "http" else triton.endpoints.grpc_url
    inputs = []
    for name, array in arrays.items():
        datatype = "BYTES" if array.dtype == np.object_ else lib.np_to_triton_dtype(array.dtype)
        tensor = lib.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    with lib.InferenceServerClient(url) as client:
        result = client.infer(model, inputs)
        names = (
            [o["name"] for o in result.get_response()["outputs"]]
            if protocol == "http"
            else [o.name for o in result.get_response().outputs]
        )
        return {n: result.as_numpy(n) for n in names}


def _strings(values: np.ndarray) -> np.ndarray:
    return np.array([str(v).encode() for v in values.ravel()], dtype=np.object_).reshape(values.shape)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_simple_string_adds_and_subtracts_decimal_strings(triton, protocol):
    a = np.arange(32, dtype=np.int32).reshape(2, 16)
    b = np.full((2, 16), 7, dtype=np.int32)
    out = _infer(triton, protocol, "simple_string", {"INPUT0": _strings(a), "INPUT1": _strings(b)})
    np.testing.assert_array_equal(out["OUTPUT0"], _strings(a + b))
    np.testing.assert_array_equal(out["OUTPUT1"], _strings(a - b))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_add_sub_python_model_answers_sum_and_difference(triton, protocol):
    a = np.array([1.5, -2.0, 3.25, 0.0], dtype=np.float32)
    b = np.array([0.5, 4.0, -1.0, 2.0], dtype=np.float32)
    out = _infer(triton, protocol, "add_sub", {"INPUT0": a, "INPUT1": b})
    np.testing.assert_array_equal(out["OUTPUT0"], a + b)
    np.testing.assert_array_equal(out["OUTPUT1"], a - b)


ODD_BYTES = np.array(
    [[b"a", b"bc", "\u00f6".encode(), b"nul\x00inside", b"\xff\xfe not utf-8", b""]], dtype=np.object_
)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_python_model_receives_and_returns_any_bytes_unchanged(triton, protocol):
    out = _infer(triton, protocol, "bytes_echo", {"TEXT": ODD_BYTES})
    assert out["ECHO"].tolist() == ODD_BYTES.tolist()
    assert out["LENGTH"].tolist() == [[len(v) for v in ODD_BYTES.ravel()]]


def test_bytes_over_the_binary_extension_reach_a_python_model_unchanged(triton):
    answer, out = infer_binary(
        f"http://{triton.endpoints.http_url}", "bytes_echo", {"TEXT": ("BYTES", ODD_BYTES)}
    )
    assert answer.status == 200 and out["ECHO"].tolist() == ODD_BYTES.tolist()


def test_non_utf8_bytes_into_an_onnx_string_model_fail_that_request_with_the_reason(triton):
    """ONNX Runtime's Python API takes UTF-8 text; NGC's C++ backend would pass the raw bytes."""
    good = _strings(np.ones((1, 16), dtype=np.int32))
    bad = good.copy()
    bad[0, 3] = b"\xff"
    with pytest.raises(InferenceServerException, match="input 'INPUT1' holds bytes that are not UTF-8 text"):
        _infer(triton, "grpc", "simple_string", {"INPUT0": good, "INPUT1": bad})
    out = _infer(triton, "grpc", "simple_string", {"INPUT0": good, "INPUT1": good})  # and it still serves
    np.testing.assert_array_equal(out["OUTPUT0"], _strings(np.full((1, 16), 2)))


def test_python_model_described_by_its_auto_complete_config_serves(triton):
    with httpclient.InferenceServerClient(triton.endpoints.http_url) as client:
        config = client.get_model_config("self_described")
    assert config["max_batch_size"] == 4 and "dynamic_batching" in config
    assert [(t["name"], t["data_type"], t["dims"]) for t in config["input"]] == [("X", "TYPE_INT64", [2])]
    out = _infer(triton, "http", "self_described", {"X": np.array([[3, -4]], dtype=np.int64)})
    np.testing.assert_array_equal(out["DOUBLED"], [[6, -8]])


def test_python_model_calls_an_onnx_model_through_bls(triton):
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    out = _infer(triton, "grpc", "bls_simple", {"INPUT0": a, "INPUT1": a})
    np.testing.assert_array_equal(out["PLUS_ONE"], a + a + 1)


def test_python_model_error_response_reaches_the_client_and_the_model_stays_up(triton):
    with pytest.raises(InferenceServerException, match="negative input: -2"):
        _infer(triton, "http", "refuses_negative", {"X": np.array([[1, -2]], dtype=np.int32)})
    out = _infer(triton, "http", "refuses_negative", {"X": np.array([[1, 2]], dtype=np.int32)})
    np.testing.assert_array_equal(out["Y"], [[1.0, 2.0]])


def test_ensemble_chains_an_onnx_step_into_a_python_step(triton):
    a = np.arange(32, dtype=np.int32).reshape(2, 16)
    b = np.full((2, 16), 5, dtype=np.int32)
    out = _infer(
        triton, "grpc", "ensemble_sum_plus_one", {"INPUT0": a, "INPUT1": b, "ZEROS": np.zeros_like(a)}
    )
    np.testing.assert_array_equal(out["RESULT"], a + b + 1)


def test_a_decoupled_python_model_streams_several_responses_per_request(triton):
    answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
    tensor = grpcclient.InferInput("COUNT", [1], "INT32")
    tensor.set_data_from_numpy(np.array([3], dtype=np.int32))
    with grpcclient.InferenceServerClient(triton.endpoints.grpc_url) as client:
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        try:
            client.async_stream_infer("countdown", [tensor], enable_empty_final_response=True)
            got = []
            while True:
                result, error = answers.get(timeout=30)
                assert error is None
                if result.get_response().parameters["triton_final_response"].bool_param:
                    break
                got.append(int(result.as_numpy("LEFT")[0]))
        finally:
            client.stop_stream()
    assert got == [2, 1, 0]
