"""The response cache (server started with --cache-config, model with response_cache enabled),
model control (unload, load, load with a config override, a model added at run time) and the
repository index."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.conformance import models as m

pytestmark = pytest.mark.integration


def _simple_inputs(value: int) -> list[httpclient.InferInput]:
    tensors = []
    for name in ("INPUT0", "INPUT1"):
        tensor = httpclient.InferInput(name, [1, 16], "INT32")
        tensor.set_data_from_numpy(np.full((1, 16), value, dtype=np.int32))
        tensors.append(tensor)
    return tensors


def _stats(client: httpclient.InferenceServerClient, model: str) -> dict[str, Any]:
    stats: dict[str, Any] = client.get_inference_statistics(model)["model_stats"][0]
    return stats


def test_a_repeated_request_is_answered_from_the_response_cache(triton):
    with httpclient.InferenceServerClient(triton.endpoints.http_url) as client:
        before = _stats(client, "cached_simple")
        first = client.infer("cached_simple", _simple_inputs(21)).as_numpy("OUTPUT0")
        again = client.infer("cached_simple", _simple_inputs(21)).as_numpy("OUTPUT0")
        # The backend reports an execution after its response has gone out: on a loaded box the
        # statistics can trail the answer by a moment, so wait for them (the counts must be exact).
        deadline = time.monotonic() + 10
        after = _stats(client, "cached_simple")
        while after["execution_count"] == before["execution_count"] and time.monotonic() < deadline:
            time.sleep(0.05)
            after = _stats(client, "cached_simple")
    np.testing.assert_array_equal(first, np.full((1, 16), 42))
    np.testing.assert_array_equal(again, first)
    hits = after["inference_stats"]["cache_hit"]["count"] - before["inference_stats"]["cache_hit"]["count"]
    misses = (
        after["inference_stats"]["cache_miss"]["count"] - before["inference_stats"]["cache_miss"]["count"]
    )
    executions = after["execution_count"] - before["execution_count"]
    assert (hits, misses, executions) == (1, 1, 1)


def test_a_model_without_response_cache_never_hits(triton):
    with httpclient.InferenceServerClient(triton.endpoints.http_url) as client:
        for _ in range(2):
            client.infer("simple", _simple_inputs(5))
        assert _stats(client, "simple")["inference_stats"]["cache_hit"]["count"] == 0


def test_unload_then_load_brings_a_model_back(triton):
    with grpcclient.InferenceServerClient(triton.endpoints.grpc_url) as client:
        client.unload_model("scale")
        assert not client.is_model_ready("scale")
        index = {e.name: e.state for e in client.get_model_repository_index().models}
        assert index["scale"] in ("UNLOADING", "UNAVAILABLE")  # Triton unloads in the background
        client.load_model("scale")
        assert client.is_model_ready("scale")


def test_load_with_a_config_override_changes_what_serves(triton):
    with httpclient.InferenceServerClient(triton.endpoints.http_url) as client:
        original = client.get_model_config("scale")
        override = {**original, "max_batch_size": 2}
        try:
            client.load_model("scale", config=json.dumps(override))
            assert client.get_model_config("scale")["max_batch_size"] == 2
            x = httpclient.InferInput("x", [3, 4], "FP32")
            x.set_data_from_numpy(np.ones((3, 4), np.float32))
            with pytest.raises(InferenceServerException, match="batch-size must be <= 2"):
                client.infer("scale", [x])
        finally:
            # A plain load of unchanged files keeps the override: load the original config back.
            client.load_model("scale", config=json.dumps(original))
        assert client.get_model_config("scale")["max_batch_size"] == 8


def test_a_model_written_at_run_time_loads_when_asked(triton, conformance_repository):
    m.write(conformance_repository, None, m.scale(7.0), name="late_arrival")
    with httpclient.InferenceServerClient(triton.endpoints.http_url) as client:
        assert not client.is_model_ready("late_arrival")
        client.load_model("late_arrival")
        x = httpclient.InferInput("x", [1, 4], "FP32")
        x.set_data_from_numpy(np.ones((1, 4), np.float32))
        np.testing.assert_array_equal(client.infer("late_arrival", [x]).as_numpy("y"), np.full((1, 4), 7.0))
        client.unload_model("late_arrival")
