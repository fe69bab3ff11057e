"""Monitoring end to end, through a real uvicorn API in front of a real embedded Triton:
feedback -> windowed metrics equal to scikit-learn's, live WebSocket updates, drift found on
injected drift and not on undrifted traffic (with a webhook that really receives the event), and a
degradation that runs the retraining job until a new version serves."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sklearn.metrics import accuracy_score, f1_score

from modelserve.api.app import create_app
from modelserve.contracts.reference import REFERENCE_NAME
from modelserve.export.tabular_data import example_table
from modelserve.families.tabular.exporter import export_tabular
from modelserve.ops.stack import local_triton, serving
from modelserve.repository import ModelRepository
from modelserve.serving.settings import ApiSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NAME = "churn"


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012 - the test reads what the server got

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    url: str
    app: Any
    root: Path
    records: list[dict[str, Any]]  # undrifted traffic, with the true label under "segment"


def _records(seed: int, rows: int) -> list[dict[str, Any]]:
    frame = example_table(rows, seed=seed).drop(columns=["user_id"])
    out: list[dict[str, Any]] = frame.to_dict("records")
    for r in out:  # JSON has no NaN
        r["user_age"] = None if r["user_age"] != r["user_age"] else r["user_age"]
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("monitoring")
    root = tmp / "repo"
    first, refreshed = tmp / "train.csv", tmp / "refreshed.csv"
    example_table(600, seed=0).to_csv(first, index=False)
    example_table(600, seed=5).to_csv(refreshed, index=False)
    export_tabular(root, NAME, first, "segment", models=["logistic_regression"], drop=["user_id"], version=1)
    assert (root / NAME / "1" / REFERENCE_NAME).is_file()

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    policy = tmp / "policy.yaml"
    policy.write_text(
        json.dumps(
            {
                "models": {
                    NAME: {
                        "window": 40,
                        "min_labelled": 20,
                        "f1_threshold": 0.6,
                        "drift_window": 300,
                        "drift_min_samples": 100,
                        "on_degradation": "retrain",
                        "on_drift": "webhook",
                        "webhook_url": f"http://127.0.0.1:{hook.server_port}/hook",
                        "retrain": {
                            "data": str(refreshed),
                            "models": ["logistic_regression"],
                            "min_f1": 0.5,
                            "max_drop": 0.5,
                        },
                    }
                }
            }
        )
    )
    with local_triton(root, tmp / "work", lock_control_plane=False) as triton:
        app = create_app(
            ApiSettings(
                triton_url=triton.endpoints.grpc_url,
                repository=root,
                monitoring_url=f"sqlite:///{tmp}/monitoring.sqlite",
                monitoring_policy=policy,
                monitoring_tick_s=0.2,
                versions_ttl_s=0.2,
            )
        )
        try:
            with serving(app) as url:
                yield Stack(url=url, app=app, root=root, records=_records(1, 400))
        finally:
            hook.shutdown()


def _predict(http: httpx.Client, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    features = [{k: v for k, v in r.items() if k != "segment"} for r in records]
    response = http.post(f"/v1/models/{NAME}/predict", json=features)
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


def test_feedback_gives_weighted_metrics_and_websocket_clients_get_updates(stack: Stack) -> None:
    async def scenario() -> None:
        ws_url = stack.url.replace("http", "ws") + f"/ws/metrics?model={NAME}"
        async with websockets.connect(ws_url) as watcher, websockets.connect(ws_url) as leaver:
            assert json.loads(await watcher.recv())["type"] == "hello"
            assert json.loads(await leaver.recv())["type"] == "hello"
            await leaver.close()  # a client that goes away is dropped; the others go on

            async with httpx.AsyncClient(base_url=stack.url) as http:
                batch = stack.records[:30]
                features = [{k: v for k, v in r.items() if k != "segment"} for r in batch]
                answer = (await http.post(f"/v1/models/{NAME}/predict", json=features)).json()
                predicted = [p["prediction"] for p in answer["predictions"]]
                feedback = [
                    {"prediction_id": p["prediction_id"], "label": r["segment"]}
                    for p, r in zip(answer["predictions"], batch, strict=True)
                ]
                response = await http.post(f"/v1/monitoring/{NAME}/feedback", json=feedback)
                assert response.status_code == 200, response.text
                verdict = response.json()
            truth = [r["segment"] for r in batch]
            assert verdict["accepted"] == 30 and verdict["version"] == "1" and not verdict["degraded"]
            assert verdict["metrics"]["n"] == 30
            assert verdict["metrics"]["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
            assert verdict["metrics"]["f1"] == pytest.approx(f1_score(truth, predicted, average="weighted"))

            seen: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + 20
            while not {"traffic", "metrics"} <= set(seen):
                assert time.monotonic() < deadline, f"updates seen: {sorted(seen)}"
                message = json.loads(await asyncio.wait_for(watcher.recv(), 20))
                seen[message["type"]] = message
            assert seen["traffic"]["model"] == NAME and seen["traffic"]["requests"] >= 1
            assert seen["metrics"]["n"] == 30 and seen["metrics"]["f1"] == pytest.approx(
                verdict["metrics"]["f1"]
            )
        monitor = stack.app.state.services.monitor
        deadline = time.monotonic() + 10
        while len(monitor.hub):  # both sockets closed now: no subscriber is left behind
            assert time.monotonic() < deadline, "a closed WebSocket stayed subscribed"
            await asyncio.sleep(0.05)

    asyncio.run(scenario())
    with httpx.Client(base_url=stack.url) as http:
        history = http.get(f"/v1/monitoring/{NAME}/history").json()["snapshots"]
        assert history[-1]["n"] == 30
        report = http.get(f"/v1/monitoring/{NAME}/report").json()
        assert report["served_version"] == "1" and report["window"]["metrics"]["n"] == 30
        assert report["traffic"]["predictions"] == 30 and report["traffic"]["labelled"] == 30
        assert report["average"]["f1"] == pytest.approx(history[-1]["f1"])
        recent = http.get(f"/v1/monitoring/{NAME}/report?since_s=3600").json()["window"]["metrics"]
        assert recent["n"] == 30
        time.sleep(0.2)
        assert http.get(f"/v1/monitoring/{NAME}/report?since_s=0.1").json()["window"]["metrics"] is None


def test_feedback_mistakes_are_named_and_change_nothing(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as http:
        pid = _predict(http, stack.records[30:31])[0]["prediction_id"]
        cases = [
            ([{"prediction_id": pid, "label": "loyal"}], 422, "not a class"),
            ([{"prediction_id": pid}], 422, "label"),
            ([{"prediction_id": pid, "label": "casual", "extra": 1}], 422, "unknown field 'extra'"),
            ([{"prediction_id": pid, "label": "casual"}] * 2, 422, "given twice"),
            ([], 422, "non-empty"),
            (
                [{"prediction_id": pid, "label": "casual"}, {"prediction_id": "nope", "label": "casual"}],
                404,
                "nope",
            ),
        ]
        for body, status, message in cases:
            response = http.post(f"/v1/monitoring/{NAME}/feedback", json=body)
            assert response.status_code == status, (body, response.text)
            assert message in response.json()["error"]["message"]
        assert http.get(f"/v1/monitoring/{NAME}/report").json()["traffic"]["labelled"] == 30  # none applied
        assert http.post("/v1/monitoring/no_such_model/feedback", json=[]).status_code == 404
        assert http.get("/v1/monitoring/no_such_model/report").status_code == 404


def test_drift_is_flagged_on_injected_drift_only_and_the_webhook_hears_of_it(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as http:
        _predict(http, stack.records[31:300])  # undrifted: 300 predictions of v1 in all
        drift = http.get(f"/v1/monitoring/{NAME}/drift").json()
        assert drift["status"] == "ok" and drift["live_n"] == 300, drift
        assert http.get(f"/v1/monitoring/{NAME}/drift?version=01").json()["live_n"] == 300  # v1
        missing = http.get(f"/v1/monitoring/{NAME}/drift?version=99")
        assert missing.status_code == 404 and "no version 99" in missing.text
        assert http.post(f"/v1/monitoring/{NAME}/check").json()["drift"]["status"] == "ok"
        assert Hook.received == []

        shifted = [dict(r, user_activity=r["user_activity"] * 2 + 3) for r in stack.records[:200]]
        _predict(http, shifted)
        drift = http.get(f"/v1/monitoring/{NAME}/drift").json()
        assert drift["status"] == "drifted" and drift["drifted_columns"] == ["user_activity"], drift
        column = next(c for c in drift["columns"] if c["column"] == "user_activity")
        assert column["test"] == "ks" and column["p_value"] < drift["column_level"]
        checked = http.post(f"/v1/monitoring/{NAME}/check").json()
        assert checked["drift"]["action"]["status"] == "sent"
        assert (
            Hook.received[-1]["kind"] == "drift" and "user_activity" in Hook.received[-1]["detail"]["columns"]
        )
        # Within the cool-down a second check records no second event.
        assert (
            http.post(f"/v1/monitoring/{NAME}/check")
            .json()["drift"]["action"]["status"]
            .startswith("cooling")
        )
        kinds = [e["kind"] for e in http.get(f"/v1/monitoring/{NAME}/events").json()["events"]]
        assert kinds == ["drift", "webhook_sent"]


def test_degradation_runs_the_retraining_job_and_the_new_version_serves(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        batch = stack.records[100:140]
        predictions = _predict(http, batch)
        # The labels say the model got every one wrong.
        flipped = [
            {
                "prediction_id": p["prediction_id"],
                "label": "casual" if p["prediction"] == "engaged" else "engaged",
            }
            for p in predictions
        ]
        verdict = http.post(f"/v1/monitoring/{NAME}/feedback", json=flipped).json()
        assert verdict["degraded"] and verdict["metrics"]["f1"] < 0.6
        assert verdict["action"] == {"action": "retrain", "status": "started"}

        deadline = time.monotonic() + 240
        while True:
            kinds = [e["kind"] for e in http.get(f"/v1/monitoring/{NAME}/events").json()["events"]]
            if "retrain_succeeded" in kinds or "retrain_failed" in kinds:
                break
            assert time.monotonic() < deadline, f"no retraining outcome; events {kinds}"
            time.sleep(0.5)
        events = http.get(f"/v1/monitoring/{NAME}/events").json()["events"]
        outcome = events[-1]
        assert outcome["kind"] == "retrain_succeeded", outcome["detail"]["output_tail"]
        assert outcome["detail"]["result"]["version"] == 2
        assert [e["kind"] for e in events][-3:] == ["degradation", "retrain_started", "retrain_succeeded"]

        assert ModelRepository(stack.root).lifecycle(NAME).served == 2
        assert (stack.root / NAME / "2" / REFERENCE_NAME).is_file()
        time.sleep(0.5)  # the API's served-version cache (0.2 s here)
        response = http.post(
            f"/v1/models/{NAME}/predict", json={k: v for k, v in stack.records[0].items() if k != "segment"}
        )
        assert response.status_code == 200 and response.json()["version"] == "2"
        report = http.get(f"/v1/monitoring/{NAME}/report").json()
        assert report["served_version"] == "2" and not report["jobs_running"]
