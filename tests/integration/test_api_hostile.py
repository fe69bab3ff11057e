"""Hostile inputs that once answered a bare-text 500 each get a 4xx in our error shape; the key is
checked before the body is read and never lands in the access log."""

from __future__ import annotations

import io
import logging
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from starlette.websockets import WebSocketDisconnect

from modelserve.api.app import create_app
from modelserve.api.auth import RedactSecrets
from modelserve.client import TritonClient
from modelserve.export.tiny_transformers import save_tiny_model
from modelserve.families.text.exporter import export_transformer
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration
KEY = "s3cret-kéy"  # not ASCII: compared as bytes


@pytest.fixture(scope="module")
def api(server, repository, tmp_path_factory):
    root, demo = repository
    tmp = tmp_path_factory.mktemp("hostile")
    export_transformer(
        root, "hostile_nli", str(save_tiny_model("nli", tmp / "nli", seed=5)), "nli", random_weights=True
    )
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("hostile_nli")
    settings = ApiSettings(
        triton_url=server.endpoints.grpc_url, repository=root, api_key=KEY, monitoring=False
    )
    headers: dict[str, Any] = {"x-api-key": KEY.encode()}  # raw UTF-8 bytes on the wire
    with TestClient(create_app(settings), headers=headers) as client:
        yield client, demo[0]


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (width, height)).save(buf, "PNG")  # 1 bit per pixel: a huge image in a few KB
    return buf.getvalue()


def _jpeg_header_only() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, "JPEG")
    return buf.getvalue()[:200]


def _assert_error(resp, status: int, fragment: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and fragment in body["error"]["message"], body


def test_a_401_digit_integer_in_a_tabular_field_is_a_422(api):
    client, model = api
    record = dict.fromkeys(model.feature_names, 1.0)
    raw = "{" + ", ".join(f'"{k}": {"9" * 401 if i == 0 else 1}' for i, k in enumerate(record)) + "}"
    resp = client.post(
        f"/v1/models/{model.name}/predict", content=raw, headers={"content-type": "application/json"}
    )
    _assert_error(resp, 422, "401 digits")


@pytest.mark.parametrize(
    ("data", "status", "fragment"),
    [
        (
            _png(30000, 30000),
            413,
            "too large to decode: over 178956970 pixels; the limit is",
        ),  # over Pillow's own bomb limit
        (_png(9000, 9000), 413, "the limit is"),  # over ours, under Pillow's
        (_jpeg_header_only(), 400, "corrupt"),
        (b"\xff\xd8", 415, "supported format"),
    ],
    ids=["pillow-bomb", "our-limit", "jpeg-header-only", "two-bytes"],
)
def test_bad_images_get_a_4xx(api, data, status, fragment):
    client, _ = api
    resp = client.post("/v1/vision/enhance?kind=sharpen", content=data, headers={"content-type": "image/png"})
    _assert_error(resp, status, fragment)


@pytest.mark.parametrize(
    "template",
    ["This is {1}.", "This is {name}.", "{} and {}", "{", "no field", "This is {:>99999999}.", "A {!r}."],
)
def test_a_zero_shot_template_with_other_fields_is_a_422(api, template):
    client, _ = api
    body = {"text": "a match", "labels": ["sport"], "hypothesis_template": template}
    resp = client.post("/v1/text/hostile_nli/zero-shot", json=body)
    _assert_error(resp, 422, "hypothesis_template")


def test_a_huge_template_is_refused_before_any_tokenising(api):
    client, _ = api
    body = {"text": "a match", "labels": ["sport"], "hypothesis_template": "{} " + "x" * 400_000}
    resp = client.post("/v1/text/hostile_nli/zero-shot", json=body)
    _assert_error(resp, 422, "hypothesis_template")


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("zero-shot", {"text": "\ud800 a match", "labels": ["sport"]}),
        ("zero-shot", {"text": "a match", "labels": ["sp\udfffort"]}),
        ("sentiment", {"texts": ["fine", "\ud800"]}),
        ("entities", {"text": "\ud800"}),
        ("similarity", {"query": "x", "candidates": ["\ud83d"]}),
    ],
)
def test_a_lone_surrogate_in_any_text_is_a_422(api, route, body):
    client, _ = api
    import json

    raw = json.dumps(body)  # ensure_ascii keeps the lone surrogate as \\ud800 on the wire
    resp = client.post(
        f"/v1/text/hostile_nli/{route}", content=raw, headers={"content-type": "application/json"}
    )
    assert resp.status_code in (404, 422), resp.text  # 404: the NLI model serves zero-shot only
    if route == "zero-shot":  # pydantic's own check or ours: a 422 naming the field either way
        assert resp.status_code == 422 and ("surrogate" in resp.text or "unicode" in resp.text)


def test_a_lone_surrogate_quoted_back_in_an_error_is_escaped_not_a_500(api):
    client, model = api
    raw, json_type = '{"\\ud800": 1}', {"content-type": "application/json"}
    resp = client.post(f"/v1/models/{model.name}/predict", content=raw, headers=json_type)
    assert resp.status_code == 422 and "\ud800" in resp.json()["error"]["message"]  # the unknown field
    resp = client.post("/predict", content=raw, headers=json_type)  # 404: no compat model configured
    assert resp.status_code == 404 and resp.headers["content-type"] == "application/json"


def test_invented_model_names_share_one_metrics_label(api):
    client, model = api
    record = dict.fromkeys(model.feature_names, 1.0)
    assert client.post(f"/v1/models/{model.name}/predict", json=record).status_code == 200
    for i in range(5):
        assert client.post(f"/v1/models/invented{i}/predict", json=record).status_code == 404
    text = client.get("/metrics").text
    assert f'model="{model.name}"' in text and 'model="(unknown)"' in text
    assert "invented" not in text


def test_a_model_name_over_255_characters_is_a_422(api):
    client, _ = api
    resp = client.post(f"/v1/models/{'m' * 10_000}/predict", json={"a": 1})
    _assert_error(resp, 422, "name")


def test_a_non_ascii_key_is_checked_not_crashed_on(api):
    client, _ = api
    assert client.get("/v1/models").status_code == 200  # the right non-ASCII key
    wrong = {"x-api-key": "wröng".encode()}
    _assert_error(client.get("/v1/models", headers=wrong), 401, "X-API-Key")
    anonymous = TestClient(client.app)  # without the fixture's default header
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        anonymous.websocket_connect("/ws/metrics?api_key=w%C3%B6rng"),
    ):
        pass
    assert refused.value.code == 1008


def test_the_key_is_checked_before_the_body_is_read(api):
    client, model = api
    received = []

    def body():  # a streamed body: we see whether the server pulls it
        received.append(1)
        yield b"{" + b" " * 1024

    resp = client.post(f"/v1/models/{model.name}/predict", content=body(), headers={"x-api-key": "no"})
    _assert_error(resp, 401, "X-API-Key")
    assert received == [] or len(received) <= 1  # never parsed; at most the first chunk sent by the client


def test_metrics_and_per_model_readiness_need_the_key_plain_readiness_does_not(api):
    client, model = api
    bare = {"x-api-key": ""}
    assert client.get("/metrics", headers=bare).status_code == 401
    assert client.get(f"/ready?models={model.name}", headers=bare).status_code == 401
    assert client.get("/ready", headers=bare).status_code == 200
    assert client.get("/health", headers=bare).status_code == 200


def test_the_access_log_never_shows_the_key():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/ws/metrics?model=m&api_key=topsecret", "1.1", 101),
        None,
    )
    RedactSecrets().filter(record)
    assert "topsecret" not in record.getMessage() and "api_key=***" in record.getMessage()
