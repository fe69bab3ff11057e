"""The key is documented in /openapi.json where the middleware requires it, and only there."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.api.auth import PUBLIC
from modelserve.serving.settings import ApiSettings


def test_every_keyed_operation_says_so_and_public_ones_do_not():
    client = TestClient(create_app(ApiSettings(api_key="k", monitoring=False)))
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            keyed = operation.get("security") == [{"APIKeyHeader": []}]
            assert keyed == (path not in PUBLIC), (method, path)
    # ... and what the schema says is what the middleware does.
    assert client.post("/v1/models/x/predict", json={}).status_code == 401
    assert client.get("/health").status_code == 200
