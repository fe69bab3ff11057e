"""gRPC (sync, async callback, metadata) and system shared memory over both protocols."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm

from modelserve.serve.server import EmbeddedTriton

pytestmark = pytest.mark.integration

A = np.arange(32, dtype=np.int32).reshape(2, 16)
B = np.full((2, 16), 9, dtype=np.int32)


def _inputs(lib: Any, a: np.ndarray = A, b: np.ndarray = B) -> list[Any]:
    tensors = []
    for name, array in (("INPUT0", a), ("INPUT1", b)):
        tensor = lib.InferInput(name, list(array.shape), "INT32")
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def test_grpc_metadata_config_and_infer(triton: EmbeddedTriton):
    with grpcclient.InferenceServerClient(triton.endpoints.grpc_url) as client:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("simple")
        meta = client.get_model_metadata("simple")
        assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
            ("INPUT0", "INT32", [-1, 16]),
            ("INPUT1", "INT32", [-1, 16]),
        ]
        assert client.get_model_config("simple").config.max_batch_size == 8
        result = client.infer("simple", _inputs(grpcclient))
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), A + B)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), A - B)


def test_grpc_async_requests_each_get_their_own_answer(triton: EmbeddedTriton):
    answers: queue.Queue[tuple[int, Any, Any]] = queue.Queue()
    with grpcclient.InferenceServerClient(triton.endpoints.grpc_url) as client:
        for i in range(16):
            a = np.full((1, 16), i, dtype=np.int32)
            client.async_infer(
                "simple",
                _inputs(grpcclient, a, a),
                callback=lambda result, error, i=i: answers.put((i, result, error)),
                request_id=str(i),
            )
        got = [answers.get(timeout=30) for _ in range(16)]
    for i, result, error in got:
        assert error is None
        assert result.get_response().id == str(i)
        np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), np.full((1, 16), 2 * i))


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_system_shared_memory_inputs_and_outputs(triton: EmbeddedTriton, protocol: str):
    lib = httpclient if protocol == "http" else grpcclient
    url = triton.endpoints.http_url if protocol == "http" else triton.endpoints.grpc_url
    size = A.nbytes
    key = f"/conformance_{protocol}_{triton.pid}"
    region_in = shm.create_shared_memory_region(f"in_{protocol}", f"{key}_in", 2 * size)
    region_out = shm.create_shared_memory_region(f"out_{protocol}", f"{key}_out", 2 * size)
    try:
        shm.set_shared_memory_region(region_in, [A, B])
        with lib.InferenceServerClient(url) as client:
            client.register_system_shared_memory(f"in_{protocol}", f"{key}_in", 2 * size)
            client.register_system_shared_memory(f"out_{protocol}", f"{key}_out", 2 * size)
            try:
                inputs = [lib.InferInput(n, [2, 16], "INT32") for n in ("INPUT0", "INPUT1")]
                inputs[0].set_shared_memory(f"in_{protocol}", size, offset=0)
                inputs[1].set_shared_memory(f"in_{protocol}", size, offset=size)
                outputs = [lib.InferRequestedOutput(n) for n in ("OUTPUT0", "OUTPUT1")]
                outputs[0].set_shared_memory(f"out_{protocol}", size, offset=0)
                outputs[1].set_shared_memory(f"out_{protocol}", size, offset=size)
                client.infer("simple", inputs, outputs=outputs)
                status = client.get_system_shared_memory_status()
                assert f"in_{protocol}" in str(status)
            finally:
                client.unregister_system_shared_memory()
        total = shm.get_contents_as_numpy(region_out, np.int32, [2, 16], offset=0)
        diff = shm.get_contents_as_numpy(region_out, np.int32, [2, 16], offset=size)
        np.testing.assert_array_equal(total, A + B)
        np.testing.assert_array_equal(diff, A - B)
    finally:
        shm.destroy_shared_memory_region(region_in)
        shm.destroy_shared_memory_region(region_out)
