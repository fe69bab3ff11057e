"""The API against the real embedded Triton."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_ready_and_models_reflect_the_server(server, protocol):
    url = server.endpoints.grpc_url if protocol == "grpc" else server.endpoints.http_url
    with TestClient(create_app(ApiSettings(triton_url=url, triton_protocol=protocol))) as client:
        assert client.get("/ready").status_code == 200
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["iris_rf"]["state"] == "READY"


def test_ready_checks_the_models_asked_about(server):
    with TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url))) as client:
        assert client.get("/ready?models=iris_rf,breast_cancer_lr").status_code == 200
        repeated = client.get("/ready", params={"models": ",".join(["iris_rf"] * 300)})
        assert repeated.json()["models"] == ["iris_rf"]  # each name asked about once
        resp = client.get("/ready?models=iris_rf,no_such_model")
    assert resp.status_code == 503 and "no_such_model" in resp.json()["error"]["message"]
    assert resp.headers["Retry-After"] == "1"
