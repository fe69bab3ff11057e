"""At load, as Triton's ONNX Runtime backend: a config that contradicts its graph is refused with
Triton's words, and a missing or partial config is completed from the graph."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.conformance.repository import MISMATCHES

pytestmark = pytest.mark.integration


@pytest.fixture
def client(triton):
    with httpclient.InferenceServerClient(triton.endpoints.http_url) as c:
        yield c


@pytest.mark.parametrize("model", sorted(MISMATCHES))
def test_a_config_that_contradicts_its_graph_fails_to_load_naming_the_mismatch(client, model):
    index = {e["name"]: e for e in client.get_model_repository_index()}
    assert index[model]["state"] == "UNAVAILABLE"
    assert MISMATCHES[model] in index[model]["reason"]
    assert not client.is_model_ready(model)
    with pytest.raises(InferenceServerException) as err:  # asking again gives the same answer
        client.load_model(model)
    assert MISMATCHES[model] in str(err.value)


def _config(client: httpclient.InferenceServerClient, model: str) -> dict[str, Any]:
    config = client.get_model_config(model)
    return {
        "max_batch_size": config["max_batch_size"],
        "dynamic_batching": "dynamic_batching" in config,
        "input": [(t["name"], t["data_type"], t["dims"]) for t in config["input"]],
        "output": [(t["name"], t["data_type"], t["dims"]) for t in config["output"]],
    }


def test_a_bare_model_onnx_serves_with_a_config_completed_from_the_graph(client):
    assert _config(client, "auto_bare") == {
        "max_batch_size": 4,  # Triton's default-max-batch-size
        "dynamic_batching": True,
        "input": [("x", "TYPE_FP32", [4])],
        "output": [("y", "TYPE_FP32", [4])],
    }
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    tensor = httpclient.InferInput("x", [2, 4], "FP32")
    tensor.set_data_from_numpy(x)
    np.testing.assert_array_equal(client.infer("auto_bare", [tensor]).as_numpy("y"), x * 2)


def test_a_partial_config_keeps_its_max_batch_size_and_gains_inputs_and_outputs(client):
    assert _config(client, "auto_partial") == {
        "max_batch_size": 16,
        "dynamic_batching": True,
        "input": [("x", "TYPE_FP32", [4])],
        "output": [("y", "TYPE_FP32", [4])],
    }


def test_a_graph_without_a_batch_dim_is_completed_without_batching(client):
    assert _config(client, "auto_unbatched") == {
        "max_batch_size": 0,
        "dynamic_batching": False,
        "input": [("x", "TYPE_FP32", [1, 4])],
        "output": [("y", "TYPE_FP32", [1, 4])],
    }
    tensor = httpclient.InferInput("x", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 4), np.float32))
    np.testing.assert_array_equal(
        client.infer("auto_unbatched", [tensor]).as_numpy("y"), np.full((1, 4), 5.0)
    )


def test_metadata_of_a_completed_model_matches_its_graph(client):
    meta = client.get_model_metadata("auto_bare")
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 4]}]


def test_the_served_config_names_the_python_based_backend_as_its_runtime(client):
    """Where the embedded server shows it is not NGC: Triton records a Python-based backend's runtime."""
    config = client.get_model_config("simple")
    assert (config["backend"], config["platform"], config["runtime"]) == (
        "onnxruntime",
        "onnxruntime_onnx",
        "model.py",
    )
