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
