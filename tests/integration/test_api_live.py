"""The API against the real embedded Triton."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_ready_and_models_reflect_the_server(server, protocol):
    url = server.endpoints.grpc_url if protocol == "grpc" else server.endpoints.http_url
    with TestClient(create_app(ApiSettings(triton_url=url, triton_protocol=protocol))) as client:
        assert client.get("/ready").status_code == 200
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["iris_rf"]["state"] == "READY"
