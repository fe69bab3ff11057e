"""deploy/k8s against a running embedded Triton: the autoscaling rules read metrics it really
exports, and the clients accept the address form the manifests give the API and the Jobs."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest

from modelserve.client import AsyncTritonClient, TritonClient
from modelserve.ops.stack import local_triton
from modelserve.repository import ModelRepository
from modelserve.repository.spec import ModelEntry, TensorConfig
from modelserve.serve.server import EmbeddedTriton
from tests.helpers import scale_model
from tests.k8s import SERVING, container, env_value, one, render, triton_metrics_in_rules

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    root = tmp_path_factory.mktemp("k8s_repository")
    entry = ModelEntry(
        name="scaled",
        inputs=(TensorConfig(name="x", data_type="FP32", dims=(4,)),),
        outputs=(TensorConfig(name="y", data_type="FP32", dims=(4,)),),
        max_batch_size=8,
    )
    ModelRepository(root).write_version(entry, scale_model(2.0), version=1)
    with local_triton(root, tmp_path_factory.mktemp("work"), lock_control_plane=False) as server:
        yield server


def _exported_names(server: EmbeddedTriton) -> set[str]:
    with urllib.request.urlopen(server.endpoints.metrics_url, timeout=10) as resp:
        text = resp.read().decode()
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("target", SERVING)
def test_every_triton_metric_the_rules_read_is_exported_by_a_running_server(
    triton: EmbeddedTriton, target: str
):
    with TritonClient(triton.endpoints.grpc_url, timeout_s=20) as client:
        out = client.infer("scaled", {"x": np.ones((1, 4), dtype=np.float32)})
    np.testing.assert_allclose(out["y"], 2.0)
    exported = _exported_names(triton)
    named = triton_metrics_in_rules(render(target))
    assert {"nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us"} <= named
    assert named <= exported, f"not exported by Triton: {sorted(named - exported)}"


def test_clients_accept_the_dns_target_the_manifests_give_the_api(triton: EmbeddedTriton):
    """The headless Service's name swapped for localhost: the same ``dns:///host:port`` form."""
    objects = render("gpu")
    url = env_value(
        objects, container(one(objects, "Deployment", "modelserve-api"), "api"), "MODELSERVE_TRITON_URL"
    )
    local = re.sub(r"^dns:///[^:]+:\d+$", f"dns:///localhost:{triton.endpoints.grpc_port}", url)
    assert local != url and local.startswith("dns:///localhost:")
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    with TritonClient(local, timeout_s=20) as client:
        np.testing.assert_allclose(client.infer("scaled", {"x": x})["y"], 2 * x)

    async def call() -> bool:
        async with AsyncTritonClient(local, timeout_s=20) as client:
            return await client.is_server_ready()

    assert asyncio.run(call()) is True
