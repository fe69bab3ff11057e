"""The monitoring routes' own logic without Triton: the WebSocket's key check, monitoring off,
feedback parsing, a store that is down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from modelserve.api.app import create_app
from modelserve.api.monitoring import parse_feedback
from modelserve.monitor.errors import StoreError
from modelserve.serve.ports import free_port
from modelserve.serving.errors import PayloadTooLargeError, UnprocessableError
from modelserve.serving.settings import ApiSettings


def _client(tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(
        create_app(
            ApiSettings(
                triton_url=f"127.0.0.1:{free_port()}",
                monitoring_url=f"sqlite:///{tmp_path}/m.sqlite",
                **settings,
            )
        )
    )


def test_websocket_needs_the_key_when_one_is_set(tmp_path: Path) -> None:
    with _client(tmp_path, api_key="s3cret") as client:
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/metrics") as ws:
            ws.receive_json()
        assert refused.value.code == 1008
        with client.websocket_connect("/ws/metrics?api_key=s3cret&model=m") as ws:
            assert ws.receive_json() == {"type": "hello", "model": "m", "subscribers": 1}
            hub = client.app.state.services.monitor.hub  # type: ignore[attr-defined]
            hub.publish({"type": "event", "model": "m", "kind": "drift"})
            hub.publish({"type": "event", "model": "other", "kind": "drift"})
            hub.publish({"type": "traffic", "model": "m", "requests": 3})
            assert ws.receive_json()["kind"] == "drift"
            assert ws.receive_json() == {
                "type": "traffic",
                "model": "m",
                "requests": 3,
            }  # "other" filtered out
        with client.websocket_connect("/ws/metrics", headers={"X-API-Key": "s3cret"}) as ws:
            assert ws.receive_json()["type"] == "hello"
        with client.websocket_connect("/ws/metrics?model=", headers={"X-API-Key": "s3cret"}) as ws:
            assert ws.receive_json()["model"] is None  # an empty name means every model
            client.app.state.services.monitor.hub.publish({"type": "traffic", "model": "x"})  # type: ignore[attr-defined]
            assert ws.receive_json()["model"] == "x"


def test_monitoring_off_means_no_records_and_503_routes(tmp_path: Path) -> None:
    with _client(tmp_path, monitoring=False) as client:
        assert client.app.state.services.monitor is None  # type: ignore[attr-defined]
        response = client.get("/v1/monitoring/m/report")
        assert response.status_code == 503 and "MODELSERVE_MONITORING" in response.json()["error"]["message"]
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/metrics") as ws:
            ws.receive_json()


def test_unknown_model_report_is_404(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        response = client.get("/v1/monitoring/nothing_here/report")
        assert response.status_code == 404 and "nothing_here" in response.json()["error"]["message"]
        assert client.get("/v1/monitoring/m/history?limit=0").status_code == 422


@pytest.mark.parametrize("route", ["history", "events", "report", "drift"])
@pytest.mark.parametrize("name", ["%2E%2E", "segments%00", "a%20b", ".hidden"])
def test_a_malformed_model_name_is_422_naming_the_rule(tmp_path: Path, route: str, name: str) -> None:
    with _client(tmp_path) as client:
        response = client.get(f"/v1/monitoring/{name}/{route}")
    assert response.status_code == 422, response.text
    assert "use letters, digits, '_', '-' and '.'" in response.json()["error"]["message"]


def test_history_and_events_are_404_for_a_model_nobody_knows(tmp_path: Path) -> None:
    (tmp_path / "repo" / "exported").mkdir(parents=True)
    with _client(tmp_path, repository=tmp_path / "repo") as client:
        monitor = client.app.state.services.monitor  # type: ignore[attr-defined]
        monitor.record("retired", "1", np.zeros((1, 2)), ["a"], [0.9], 1.0)
        client.portal.call(monitor.flush)  # type: ignore[union-attr]
        for route in ("history", "events"):
            unknown = client.get(f"/v1/monitoring/nope/{route}")
            assert unknown.status_code == 404, unknown.text
            assert "model 'nope' is not in the repository" in unknown.json()["error"]["message"]
            assert client.get(f"/v1/monitoring/exported/{route}").status_code == 200  # in the repository
            assert client.get(f"/v1/monitoring/retired/{route}").status_code == 200  # predictions recorded


def test_a_store_that_cannot_open_stops_start_up_naming_it(tmp_path: Path) -> None:
    app = create_app(ApiSettings(monitoring_url="postgresql+psycopg://u:hunter2@127.0.0.1:1/db"))
    with pytest.raises(StoreError, match="127.0.0.1:1") as failed, TestClient(app):
        pass
    assert "hunter2" not in str(failed.value)


def test_feedback_parsing() -> None:
    classes = ["a", "b"]
    assert parse_feedback({"prediction_id": "x", "label": "a"}, classes, 10) == {"x": "a"}
    assert parse_feedback(
        [{"prediction_id": "x", "label": "a"}, {"prediction_id": "y", "label": "b"}], classes, 10
    )
    for body, message in [
        ([], "non-empty"),
        ([1], "item 0"),
        ([{"prediction_id": "x" * 65, "label": "a"}], "prediction_id"),
        ([{"prediction_id": 3, "label": "a"}], "prediction_id"),
        ([{"prediction_id": "x", "label": 1}], "label must be a string"),
        ([{"prediction_id": "x", "label": "c"}], "not a class"),
        ([{"prediction_id": "\ud800", "label": "a"}], "prediction_id"),  # not storable as text
        ([{"prediction_id": "x", "label": "\ud800"}], "label must be a string"),
    ]:
        with pytest.raises(UnprocessableError, match=message):
            parse_feedback(body, classes, 10)
    with pytest.raises(PayloadTooLargeError, match="limit is 1"):
        parse_feedback([{"prediction_id": "x", "label": "a"}] * 2, classes, 1)
