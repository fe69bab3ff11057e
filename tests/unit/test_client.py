from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from modelserve import client
from modelserve.client._tensors import build_inputs
from modelserve.client._translate import translate
from modelserve.client.errors import (
    InferenceServerError,
    InferenceTimeoutError,
    InvalidInputError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
)
from modelserve.client.sync import normalise_url
from modelserve.client.types import ModelMetadata, ModelStatistics, parse_config


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("StatusCode.UNAVAILABLE", "failed to connect to all addresses", ServerUnavailableError),
        ("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded", InferenceTimeoutError),
        ("StatusCode.NOT_FOUND", "Request for unknown model: 'x' is not found", ModelNotFoundError),
        ("400", "Request for unknown model: 'x' is not found", ModelNotFoundError),
        (
            "StatusCode.UNAVAILABLE",
            "Request for unknown model: 'x' has no available versions",
            ModelNotReadyError,
        ),
        ("400", "Request for unknown model: 'x' version 3 is not at ready state", ModelNotReadyError),
        ("StatusCode.INVALID_ARGUMENT", "unexpected shape for input 'x'", InvalidInputError),
        ("500", "Stub process 'x_0' is not healthy.", InferenceServerError),
    ],
)
def test_tritonclient_errors_map_onto_our_tree(status, message, expected):
    err = translate(InferenceServerException(message, status=status), url="h:1", what="infer x")
    assert type(err) is expected
    assert err.status == status and "infer x" in err.message


def test_model_not_ready_message_maps_to_not_ready():
    exc = InferenceServerException("model 'm' is not ready", status="400")
    assert isinstance(translate(exc, url="h:1", what="w"), ModelNotReadyError)


def test_connection_refused_is_server_unavailable():
    err = translate(ConnectionRefusedError(111, "Connection refused"), url="h:1", what="infer")
    assert isinstance(err, ServerUnavailableError) and "h:1" in err.message


@pytest.mark.parametrize(
    "last_error",
    [
        "UNAVAILABLE: ipv4:127.0.0.1:8000: Socket closed",  # Triton's HTTP port
        "UNAVAILABLE: ipv4:127.0.0.1:8000: Failed parsing HTTP/2 (Expected SETTINGS frame)",
    ],
)
def test_grpc_to_a_port_that_does_not_speak_it_names_the_grpc_port(last_error):
    message = f"failed to connect to all addresses; last error: {last_error}"
    unavailable = "StatusCode.UNAVAILABLE"
    err = translate(InferenceServerException(message, status=unavailable), url="h:8000", what="w")
    assert isinstance(err, ServerUnavailableError)
    assert "no gRPC server at h:8000: is this Triton's HTTP port?" in err.message and "8001" in err.message
    refused = "failed to connect to all addresses; last error: UNKNOWN: Connection refused"
    err = translate(InferenceServerException(refused, status=unavailable), url="h:8001", what="w")
    assert "cannot reach Triton at h:8001" in err.message and "HTTP port" not in err.message


def test_socket_timeout_is_a_timeout():
    assert isinstance(translate(TimeoutError("timed out"), url="h:1", what="infer"), InferenceTimeoutError)


def test_urls_with_schemes_are_normalised():
    assert normalise_url("http://localhost:8000/") == "localhost:8000"
    assert normalise_url("127.0.0.1:8001") == "127.0.0.1:8001"


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="'grpc' or 'http'"):
        client.TritonClient("h:1", protocol="udp")


def test_inputs_must_be_numpy_arrays_with_triton_types():
    with pytest.raises(InvalidInputError, match="must be a numpy array"):
        build_inputs(grpcclient, {"x": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError, match="no inputs"):
        build_inputs(grpcclient, {})
    (built,) = build_inputs(grpcclient, {"x": np.zeros((2, 3), dtype=np.float16)})
    assert built.datatype() == "FP16" and built.shape() == [2, 3]


def test_statistics_parse_the_same_from_http_and_grpc_json():
    http_form = {
        "name": "m",
        "version": "1",
        "inference_count": 10,
        "execution_count": 3,
        "inference_stats": {"queue": {"count": 10, "ns": 5000}, "compute_infer": {"count": 10, "ns": 20000}},
        "batch_stats": [{"batch_size": 4, "compute_infer": {"count": 2, "ns": 1}}],
    }
    grpc_form = {
        "name": "m",
        "version": "1",
        "inference_count": "10",
        "execution_count": "3",
        "inference_stats": {
            "queue": {"count": "10", "ns": "5000"},
            "compute_infer": {"count": "10", "ns": "20000"},
        },
        "batch_stats": [{"batch_size": "4", "compute_infer": {"count": "2", "ns": "1"}}],
    }
    a, b = ModelStatistics.parse(http_form), ModelStatistics.parse(grpc_form)
    assert a == b
    assert a.queue.mean_us == 0.5 and a.batch_sizes == {4: 2} and a.success.count == 0


def test_metadata_and_config_parse():
    meta = ModelMetadata.parse(
        {
            "name": "m",
            "versions": ["1"],
            "platform": "onnxruntime_onnx",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": ["-1", "4"]}],
            "outputs": [],
        }
    )
    assert meta.inputs[0].shape == (-1, 4)
    config = parse_config({"config": {"name": "m", "max_batch_size": 8, "unknown_field": 1}})
    assert config.name == "m" and config.max_batch_size == 8


def test_public_names_are_exported():
    for name in client.__all__:
        assert hasattr(client, name), name
