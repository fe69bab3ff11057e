"""Bodies the API cannot use are a 422 naming the problem, before any model is asked (no Triton)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.serve.ports import free_port
from modelserve.serving.settings import ApiSettings

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client():
    settings = ApiSettings(triton_url=f"127.0.0.1:{free_port()}", monitoring=False, request_timeout_s=2)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"texts": ["\xff\xfe"]}', "not valid UTF-8 (byte 12)"),
        (b'{"texts": [' + b"9" * 5000 + b"]}", "more than 4300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["invalid-utf8", "5000-digit-number", "deep-nesting"],
)
@pytest.mark.parametrize("path", ["/v1/text/m/sentiment", "/v1/models/m/predict"])
def test_a_body_that_cannot_be_parsed_says_why(client, path, raw, fragment):
    resp = client.post(path, content=raw, headers=JSON)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_input" and fragment in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("route", "body", "fragment"),
    [
        ("sentiment", {"texts": ["a"], "x": 1}, "x: Extra inputs are not permitted"),
        ("embeddings", {"texts": ["a"], "extra": True}, "extra: Extra inputs"),
        ("zero-shot", {"text": "a", "labels": ["b"], "multi_label": "yes"}, "multi_label: Input should be"),
        ("keywords", {"text": "a", "top_k": "2"}, "top_k: Input should be a valid integer"),
        ("summary", {"text": "a", "sentences": 2.5}, "sentences: Input should be a valid integer"),
    ],
)
def test_text_bodies_refuse_unknown_fields_and_other_types(client, route, body, fragment):
    resp = client.post(f"/v1/text/m/{route}", json=body)
    assert resp.status_code == 422, resp.text
    assert fragment in resp.json()["error"]["message"]


def test_readiness_takes_a_bounded_list_of_model_names(client):
    resp = client.get("/ready", params={"models": ",".join(f"m{i}" for i in range(65))})
    assert resp.status_code == 422 and "65 names; the limit is 64" in resp.json()["error"]["message"]


def _json_routes(client: TestClient) -> list[str]:
    """Every route that takes a JSON body (as the OpenAPI schema says), parameters filled in."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        path.replace("{name}", "m").replace("{model}", "m")
        for path, methods in paths.items()
        if "application/json" in methods.get("post", {}).get("requestBody", {}).get("content", {})
    ]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_every_json_route_answers_415_to_a_body_that_does_not_say_it_is_json(client, content_type):
    routes = _json_routes(client)
    assert "/v1/models/m/predict" in routes and "/v1/monitoring/m/feedback" in routes
    assert "/v1/text/m/sentiment" in routes and len(routes) >= 9
    headers = {"content-type": content_type} if content_type else {}
    for path in routes:
        resp = client.post(path, content=b'{"texts": ["a"]}', headers=headers)
        assert resp.status_code == 415, (path, resp.text)
        message = resp.json()["error"]["message"]
        assert message.startswith("send Content-Type: application/json"), (path, message)
        assert (f"'{content_type}'" if content_type else "no Content-Type") in message


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.api+json"])
def test_json_content_types_with_parameters_or_a_json_suffix_are_json(client, content_type):
    resp = client.post(
        "/v1/text/m/sentiment", content=b'{"texts": 1}', headers={"content-type": content_type}
    )
    assert resp.status_code == 422 and "texts" in resp.json()["error"]["message"]  # parsed, then checked


def test_an_empty_body_is_named_as_missing_not_as_the_wrong_type(client):
    resp = client.post("/v1/text/m/sentiment")
    assert resp.status_code == 422 and "Field required" in resp.json()["error"]["message"]


def test_the_flask_compatible_route_wants_json_too_in_its_own_error_shape():
    settings = ApiSettings(
        triton_url=f"127.0.0.1:{free_port()}", monitoring=False, request_timeout_s=2, compat_model="m"
    )
    with TestClient(create_app(settings)) as compat:
        resp = compat.post("/predict", content=b'{"a": 1}')
    assert resp.status_code == 415 and resp.json() == {
        "error": "send Content-Type: application/json with a JSON body (got no Content-Type)"
    }
