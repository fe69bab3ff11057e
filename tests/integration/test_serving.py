"""End to end against the real embedded Triton: production configs, batching, versions, control."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from modelserve.client import (
    AsyncTritonClient,
    ClientError,
    ModelNotFoundError,
    ModelNotReadyError,
    ServerUnavailableError,
    TritonClient,
)
from modelserve.families.tabular.demo import DemoModel
from modelserve.serve.server import EmbeddedTriton

pytestmark = pytest.mark.integration
PROTOCOLS = ("grpc", "http")


def _client(server: EmbeddedTriton, protocol: str) -> TritonClient:
    url = server.endpoints.grpc_url if protocol == "grpc" else server.endpoints.http_url
    return TritonClient(url, protocol=protocol, timeout_s=20)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_demo_models_answer_like_onnx_runtime_and_scikit_learn(server, repository, protocol):
    _, demo = repository
    for model in demo:
        x = np.asarray(model.sample, dtype=np.float64)
        with _client(server, protocol) as client:
            out = client.infer(model.name, {"features": x})
        session = ort.InferenceSession(str(model.written.model_path))
        label, proba = session.run(["label", "probabilities"], {"features": x})
        np.testing.assert_allclose(out["probabilities"], proba, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out["label"].reshape(-1), label)
        assert out["label"].shape == (len(x), 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_production_style_config_loads_unchanged_and_serves(server, protocol):
    with _client(server, protocol) as client:
        assert client.is_model_ready("prod_scale")
        config = client.config("prod_scale")
        assert config.platform == "onnxruntime_onnx" and config.instance_group[0].count == 2
        x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
        np.testing.assert_allclose(client.infer("prod_scale", {"x": x})["y"], x * 3.0, rtol=1e-6)


def test_concurrent_requests_are_dynamically_batched(server):
    async def main() -> tuple[int, int, list[bool]]:
        async with AsyncTritonClient(server.endpoints.grpc_url) as client:
            before = (await client.statistics("batched"))[0]
            xs = [np.full((1, 4), i, dtype=np.float32) for i in range(64)]
            outs = await asyncio.gather(*(client.infer("batched", {"x": x}) for x in xs))
            after = (await client.statistics("batched"))[0]
            ok = [np.array_equal(o["y"], x * 5.0) for o, x in zip(outs, xs, strict=True)]
            return (
                after.inference_count - before.inference_count,
                after.execution_count - before.execution_count,
                ok,
            )

    inferences, executions, ok = asyncio.run(main())
    assert all(ok), "a batched answer went to the wrong request"
    assert inferences == 64
    assert executions < inferences


def test_two_versions_are_addressed_explicitly(server):
    x = np.ones((2, 4), dtype=np.float32)
    with _client(server, "grpc") as client:
        assert client.metadata("versioned").versions == ("1", "2")
        np.testing.assert_array_equal(client.infer("versioned", {"x": x}, version="1")["y"], x * 2)
        np.testing.assert_array_equal(client.infer("versioned", {"x": x}, version="2")["y"], x * 3)
        with pytest.raises(ClientError):
            client.infer("versioned", {"x": x}, version="9")


def test_explicit_unload_and_load(server):
    x = np.ones((1, 4), dtype=np.float32)
    with _client(server, "http") as client:
        client.unload("prod_scale")
        assert not client.is_model_ready("prod_scale")
        with pytest.raises((ModelNotReadyError, ModelNotFoundError)):
            client.infer("prod_scale", {"x": x})
        client.load("prod_scale")
        assert client.is_model_ready("prod_scale")
        np.testing.assert_array_equal(client.infer("prod_scale", {"x": x})["y"], x * 3)


def test_unknown_model_raises_model_not_found(server):
    with _client(server, "grpc") as client, pytest.raises(ModelNotFoundError, match="no_such_model"):
        client.infer("no_such_model", {"x": np.ones((1, 4), dtype=np.float32)})


def test_corrupt_version_fails_to_load_while_everything_keeps_serving(server, repository):
    root, _ = repository
    stop = threading.Event()
    failures: list[str] = []
    answered = [0]

    def traffic(model: str, factor: float) -> None:
        x = np.ones((1, 4), dtype=np.float32)
        with _client(server, "grpc") as client:
            while not stop.is_set():
                try:
                    y = client.infer(model, {"x": x})["y"]
                    if not np.array_equal(y, x * factor):
                        failures.append(f"{model}: wrong answer {y}")
                    answered[0] += 1
                except ClientError as exc:
                    failures.append(f"{model}: {exc}")

    threads = [threading.Thread(target=traffic, args=a) for a in (("flaky", 7.0), ("prod_scale", 3.0))]
    for t in threads:
        t.start()
    corrupt = root / "flaky" / "2"
    try:
        corrupt.mkdir()
        (corrupt / "model.onnx").write_bytes(b"this is not an onnx file")
        with _client(server, "grpc") as client:
            with pytest.raises(ClientError, match="flaky"):
                client.load("flaky")
            assert client.is_model_ready("flaky", "1")
            assert not client.is_model_ready("flaky", "2")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        shutil.rmtree(corrupt, ignore_errors=True)
    assert failures == []
    assert answered[0] > 0


def test_grpc_sent_to_the_http_port_names_the_likely_mistake(server):
    # Triton's HTTP server closes the connection on gRPC's preface: gRPC alone says "Socket closed".
    wrong = TritonClient(server.endpoints.http_url, protocol="grpc", timeout_s=10)
    with pytest.raises(ServerUnavailableError, match="is this Triton's HTTP port") as err, wrong as client:
        client.metadata("iris_rf", "")
    assert f"no gRPC server at {server.endpoints.http_url}" in str(err.value) and "8001" in str(err.value)


def test_kserve_v2_json_over_plain_http(server):
    """What curl does: JSON in, JSON out, no tritonclient."""
    base = f"http://{server.endpoints.http_url}"
    with urllib.request.urlopen(f"{base}/v2/health/ready") as resp:
        assert resp.status == 200
    body = json.dumps(
        {"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}
    ).encode()
    req = urllib.request.Request(
        f"{base}/v2/models/iris_rf/infer", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as resp:
        out = {o["name"]: o for o in json.loads(resp.read())["outputs"]}
    assert out["label"]["data"] == [0]  # setosa
    assert out["probabilities"]["shape"] == [1, 3]


def test_metrics_endpoint_counts_inferences(server):
    with urllib.request.urlopen(server.endpoints.metrics_url) as resp:
        text = resp.read().decode()
    assert 'nv_inference_request_success{model="iris_rf"' in text


def test_repository_index_lists_every_model(server, repository: tuple[Path, list[DemoModel]]):
    with _client(server, "grpc") as client:
        names = {e.name for e in client.repository_index()}
    assert {"iris_rf", "breast_cancer_lr", "prod_scale", "versioned", "batched", "flaky"} <= names
