"""The tabular route's plain functions, and request limits / metrics of the app (no Triton)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families.tabular.handler import encode, postprocess, records_from_body
from modelserve.serve.ports import free_port
from modelserve.serving.errors import PayloadTooLargeError, UnprocessableError
from modelserve.serving.settings import ApiSettings

SPEC = FeatureSpec(
    fields=(
        FieldSpec(name="age", kind="numeric"),
        FieldSpec(name="tier", kind="categorical", categories=("a", "b")),
    ),
    target="y",
    classes=("no", "yes"),
)


def test_one_record_or_a_list_of_records():
    assert records_from_body({"age": 1}, 10) == [{"age": 1}]
    assert len(records_from_body([{"age": 1}, {"age": 2}], 10)) == 2


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_bodies_that_are_not_records_are_422(body):
    with pytest.raises(UnprocessableError, match="record"):
        records_from_body(body, 10)


def test_too_many_records_is_413():
    with pytest.raises(PayloadTooLargeError, match="limit is 2"):
        records_from_body([{}, {}, {}], 2)


def test_a_bad_field_is_422_naming_it():
    with pytest.raises(UnprocessableError, match="missing field 'tier'"):
        encode(SPEC, [{"age": 3}], "float64")
    with pytest.raises(UnprocessableError, match="'age' must be a number"):
        encode(SPEC, [{"age": "x", "tier": "a"}], "float64")
    with pytest.raises(UnprocessableError, match="'tier' must be a string \\(a category\\), got an array"):
        encode(SPEC, [{"age": 1, "tier": ["a"]}], "float64")


def test_postprocess_names_classes_and_confidence():
    (p,) = postprocess(SPEC.classes, np.array([[1]]), np.array([[0.25, 0.75]], dtype=np.float32))
    assert p.prediction == "yes" and p.probabilities == {"no": 0.25, "yes": 0.75} and p.confidence == 0.75


def _app(**settings):
    return TestClient(
        create_app(ApiSettings(triton_url=f"127.0.0.1:{free_port()}", request_timeout_s=2, **settings))
    )


def test_oversized_body_is_refused_by_its_declared_length():
    with _app(max_body_bytes=100) as client:
        resp = client.post(
            "/v1/models/m/predict", content=b"x" * 500, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"


def test_malformed_json_is_422_in_our_error_shape():
    with _app() as client:
        resp = client.post(
            "/v1/models/m/predict", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_input"


def test_metrics_count_requests_per_route_and_triton_errors():
    with _app() as client:
        assert client.post("/v1/models/m/predict", json={"age": 1}).status_code == 503
        text = client.get("/metrics").text
    # "m" was never served: invented names share one label instead of a series each
    assert (
        'modelserve_requests_total{model="(unknown)",route="/v1/models/{name}/predict",status="503"} 1.0'
        in text
    )
    assert 'modelserve_triton_errors_total{kind="ServerUnavailableError"} 1.0' in text


def test_a_chunked_body_over_the_limit_is_refused_while_streaming():
    def chunks():
        for _ in range(10):
            yield b"x" * 64  # no Content-Length: only counting can catch it

    with _app(max_body_bytes=200) as client:
        resp = client.post(
            "/v1/models/m/predict", content=chunks(), headers={"content-type": "application/json"}
        )
    assert resp.status_code == 413 and "limit of 200 bytes" in resp.json()["error"]["message"]


def test_a_chunked_image_over_the_limit_is_refused_on_a_raw_body_route():
    def chunks():
        for _ in range(10):
            yield b"\x89PNG" * 16

    with _app(max_body_bytes=100) as client:
        resp = client.post("/v1/vision/enhance", content=chunks(), headers={"content-type": "image/png"})
    assert resp.status_code == 413
