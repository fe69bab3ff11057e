"""The API in process (no Triton running): health, errors as JSON with the right status."""

from __future__ import annotations

from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.serve.ports import free_port
from modelserve.serving.settings import ApiSettings


def _client(**settings: object) -> TestClient:
    url = f"127.0.0.1:{free_port()}"  # nothing listens there
    return TestClient(create_app(ApiSettings(triton_url=url, request_timeout_s=2, **settings)))  # type: ignore[arg-type]


def test_health_answers_without_triton():
    with _client() as client:
        assert client.get("/health").json() == {"status": "ok"}


def test_ready_is_503_with_retry_after_when_triton_is_down():
    with _client() as client:
        resp = client.get("/ready")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.json()["error"]["code"] == "unavailable"


def test_models_is_503_when_triton_is_down_never_500():
    with _client() as client:
        resp = client.get("/v1/models")
    assert resp.status_code == 503
    assert "cannot reach Triton" in resp.json()["error"]["message"]


def test_api_key_is_required_when_configured():
    with _client(api_key="s3cret") as client:
        assert client.get("/v1/models").status_code == 401
        assert (
            client.get("/v1/models", headers={"X-API-Key": "wrong"}).json()["error"]["code"] == "unauthorized"
        )
        assert client.get("/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 503
        assert client.get("/health").status_code == 200


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELSERVE_TRITON_URL", "triton:8001")
    monkeypatch.setenv("MODELSERVE_TRITON_PROTOCOL", "http")
    settings = ApiSettings()
    assert settings.triton_url == "triton:8001" and settings.triton_protocol == "http"


def test_cors_is_off_by_default_and_on_when_configured():
    headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with _client() as client:
        assert "access-control-allow-origin" not in client.options("/health", headers=headers).headers
    with _client(cors_origins=("https://app.example",)) as client:
        resp = client.options("/health", headers=headers)
    assert resp.headers["access-control-allow-origin"] == "https://app.example"


def test_every_response_says_where_the_time_went():
    with _client() as client:
        timing = client.get("/health").headers["server-timing"]
    assert timing.startswith("total;dur=") and "triton;dur=0.000" in timing


def test_client_errors_map_to_statuses_with_retry_after_where_retrying_helps():
    from modelserve.client import (
        InferenceTimeoutError,
        ModelNotFoundError,
        ModelNotReadyError,
        ServerUnavailableError,
    )
    from modelserve.serving.errors import from_client_error

    assert from_client_error(InferenceTimeoutError("slow")).status == 504
    assert from_client_error(ModelNotFoundError("who")).status == 404
    for exc in (ModelNotReadyError("loading"), ServerUnavailableError("down")):
        error = from_client_error(exc)
        assert error.status == 503 and error.headers["Retry-After"] == "1"


def test_keyword_phrases_stay_inside_sentences_and_clauses() -> None:
    from modelserve.families.text.prep import keyword_candidates

    found = keyword_candidates("It will rain. Markets fell sharply, stocks dropped; yields rose (again).", 50)
    assert "markets fell" in found and "fell sharply" in found and "stocks dropped" in found
    assert not {"rain markets", "sharply stocks", "dropped yields", "rose again"} & set(found)


def test_keyword_words_keep_their_digits_and_any_script() -> None:
    from modelserve.families.text.prep import keyword_candidates

    found = keyword_candidates("w10 w11 word7", 10)
    assert {"w10", "w10 w11", "word7"} <= set(found) and "w w" not in found  # was "w w": digits dropped
    assert keyword_candidates("東京は日本の首都です。大阪は大きい都市です。", 10) == [
        "東京は日本の首都です",
        "大阪は大きい都市です",
    ]  # no spaces to split words on, but the full-width stop ends a phrase
    assert "straße" in keyword_candidates("Die Straße ist schön", 10)
