"""POST /v1/models/{name}/predict through the real API and the real embedded Triton."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.export.tabular_data import example_table
from modelserve.families.tabular.exporter import export_tabular
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exported(server, repository, tmp_path_factory):
    root, _ = repository
    data = tmp_path_factory.mktemp("api") / "events.csv"
    frame = example_table(400, seed=9)
    frame.to_csv(data, index=False)
    result, _ = export_tabular(
        root, "api_segments", data, "segment", drop=["user_id"], models=("logistic_regression",)
    )
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("api_segments")
    return root, result, frame


def _api(server, root):
    return TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root)))


def test_records_get_the_pipelines_answers(server, exported):
    root, result, frame = exported
    records = frame.drop(columns=["user_id", "segment"]).head(5).to_dict("records")
    records[0]["user_age"] = None  # a null is imputed inside the graph
    with _api(server, root) as api:
        one = api.post("/v1/models/api_segments/predict", json=records[1])
        many = api.post("/v1/models/api_segments/predict", json=records)
    assert one.status_code == 200 and many.status_code == 200, many.text
    timing = dict(part.split(";dur=") for part in many.headers["server-timing"].split(", "))
    assert float(timing["triton"]) > 0 and float(timing["total"]) >= float(timing["triton"])
    x = result.spec.encode(records)
    expected = result.pipeline.predict_proba(x)
    got = np.array([[p["probabilities"][c] for c in result.spec.classes] for p in many.json()["predictions"]])
    np.testing.assert_allclose(got, expected, atol=1e-4)

    def without_id(p):
        return {k: v for k, v in p.items() if k != "prediction_id"}

    assert without_id(one.json()["predictions"][0]) == without_id(many.json()["predictions"][1])
    ids = [p["prediction_id"] for p in [*one.json()["predictions"], *many.json()["predictions"]]]
    assert len(set(ids)) == 6 and all(len(i) == 32 for i in ids)  # every record its own id
    assert [p["prediction"] for p in many.json()["predictions"]] == [
        result.spec.classes[i] for i in result.pipeline.predict(x)
    ]


def test_bad_records_and_unknown_models_get_clear_errors(server, exported):
    root, _, frame = exported
    record = frame.drop(columns=["user_id", "segment"]).iloc[0].to_dict()
    with _api(server, root) as api:
        missing = api.post(
            "/v1/models/api_segments/predict", json={k: v for k, v in record.items() if k != "category"}
        )
        extra = api.post("/v1/models/api_segments/predict", json={**record, "zip": 1})
        unknown = api.post("/v1/models/no_such_model/predict", json=record)
        not_tabular = api.post("/v1/models/prod_scale/predict", json=record)
    assert missing.status_code == 422 and "missing field 'category'" in missing.json()["error"]["message"]
    assert extra.status_code == 422 and "unknown field 'zip'" in extra.json()["error"]["message"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "model 'no_such_model' is not served"  # no "metadata ..."
    assert not_tabular.status_code == 404 and "no export contract" in not_tabular.json()["error"]["message"]
    assert str(root) not in not_tabular.json()["error"]["message"]  # no path on the server


@pytest.mark.parametrize(
    ("value", "got"),
    [({"a": 1}, "an object"), (["games"], "an array"), (3, "a number"), (True, "a boolean")],
)
def test_a_category_of_another_json_type_is_422_naming_field_and_type(server, exported, value, got):
    root, _, frame = exported
    record = frame.drop(columns=["user_id", "segment"]).iloc[0].to_dict()
    with _api(server, root) as api:
        resp = api.post("/v1/models/api_segments/predict", json={**record, "category": value})
        missing = api.post("/v1/models/api_segments/predict", json={**record, "category": None})
    message = resp.json()["error"]["message"]
    assert resp.status_code == 422 and "field 'category' must be a string" in message and got in message
    assert missing.status_code == 200, missing.text  # null: an unknown category, as documented


def test_the_demo_models_answer_on_the_predict_route(server, repository):
    root, demo = repository
    iris = next(m for m in demo if m.name == "iris_rf")
    record = dict(zip(iris.feature_names, [5.1, 3.5, 1.4, 0.2], strict=True))
    with _api(server, root) as api:
        resp = api.post("/v1/models/iris_rf/predict", json=record)
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"][0]["prediction"] == "setosa"


def test_the_original_flask_route_answers_in_its_own_shape(server, exported):
    root, result, frame = exported
    record = frame.drop(columns=["user_id", "segment"]).iloc[3].to_dict()
    settings = ApiSettings(triton_url=server.endpoints.grpc_url, repository=root, compat_model="api_segments")
    with TestClient(create_app(settings)) as api:
        answer = api.post("/predict", json=record)
        bad = api.post("/predict", json={**record, "amount": "lots"})
        broken = api.post("/predict", content=b'{"user_age": ', headers={"content-type": "application/json"})
    with _api(server, root) as unconfigured:
        off = unconfigured.post("/predict", json=record)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"prediction", "probability", "confidence"}
    assert answer.headers["modelserve-weights"] == "trained"
    expected = result.pipeline.predict_proba(result.spec.encode([record]))
    np.testing.assert_allclose(body["probability"], expected, atol=1e-4)
    assert body["prediction"] == [result.spec.classes[int(expected[0].argmax())]]
    assert body["confidence"] == pytest.approx(float(expected.max()), abs=1e-4)
    # Errors in the original's shape, {"error": "..."}, with the status that says what went wrong.
    assert bad.status_code == 422 and "amount" in bad.json()["error"]
    assert broken.status_code == 422 and broken.json()["error"].startswith("body is not valid JSON")
    assert off.status_code == 404 and "MODELSERVE_COMPAT_MODEL" in off.json()["error"]
