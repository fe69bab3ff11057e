"""Many clients at once through the API: requests reach Triton concurrently and are batched."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration


def test_concurrent_api_requests_are_batched_by_triton(server, repository):
    root, _ = repository
    from modelserve.export.tabular_data import example_table
    from modelserve.families.tabular.exporter import export_tabular

    data = root.parent / "concurrency.csv"
    frame = example_table(300, seed=5)
    frame.to_csv(data, index=False)
    export_tabular(root, "api_batched", data, "segment", drop=["user_id"], models=("logistic_regression",))
    record = frame.drop(columns=["user_id", "segment"]).iloc[0].to_dict()
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("api_batched")
        before = client.statistics("api_batched")[0]

    async def main() -> list[int]:
        app = create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                await http.post("/v1/models/api_batched/predict", json=record)  # warm the catalog
                replies = await asyncio.gather(
                    *(http.post("/v1/models/api_batched/predict", json=record) for _ in range(48))
                )
        return [r.status_code for r in replies]

    statuses = asyncio.run(main())
    with TritonClient(server.endpoints.grpc_url) as client:
        after = client.statistics("api_batched")[0]
    assert statuses == [200] * 48
    inferences = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert inferences == 49
    assert executions < inferences, f"{executions} executions for {inferences} requests: nothing was batched"
