"""``POST /v1/models/{name}/predict``: class predictions for records of a tabular model.

One record (a JSON object) or a list of records. The exported feature spec validates and encodes
them (a missing, unknown or mistyped field is a 422 naming it); Triton runs the pipeline; the
answer gives each record's predicted class, per-class probabilities and confidence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel

from modelserve.api.errors import PayloadTooLargeError, UnprocessableError
from modelserve.api.params import ModelName
from modelserve.api.services import Services, Svc
from modelserve.api.weights import Weights, stamp
from modelserve.contracts.model import TabularContract
from modelserve.contracts.tabular import FeatureSpec, FeatureValidationError

router = APIRouter()


class Prediction(BaseModel):
    prediction: str
    probabilities: dict[str, float]
    confidence: float
    prediction_id: str | None = None  # for feedback (POST /v1/monitoring/{model}/feedback)


class PredictResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    predictions: list[Prediction]


def records_from_body(body: Any, max_records: int) -> list[Mapping[str, Any]]:
    records = [body] if isinstance(body, Mapping) else body
    if not isinstance(records, list) or not records:
        raise UnprocessableError("body must be a record (JSON object) or a non-empty list of records")
    if len(records) > max_records:
        raise PayloadTooLargeError(f"{len(records)} records in one request; the limit is {max_records}")
    return records


def encode(spec: FeatureSpec, records: Sequence[Mapping[str, Any]], dtype: str) -> np.ndarray:
    try:
        return spec.encode(records, dtype)
    except FeatureValidationError as exc:
        raise UnprocessableError(str(exc)) from exc


def postprocess(classes: Sequence[str], labels: np.ndarray, probabilities: np.ndarray) -> list[Prediction]:
    return [
        Prediction(
            prediction=classes[int(label)],
            probabilities={c: float(p) for c, p in zip(classes, row, strict=True)},
            confidence=float(row.max()),
        )
        for label, row in zip(labels.reshape(-1), probabilities, strict=True)
    ]


async def _infer_rows(
    svc: Services, request: Request, name: str, x: np.ndarray, version: str, max_batch: int
) -> dict[str, np.ndarray]:
    """Records beyond the model's max batch size go as several Triton requests, at once."""
    infer = svc.gateway.infer
    if max_batch <= 0 or len(x) <= max_batch:
        return await infer(request, name, {"features": x}, version=version, coalesce=True)
    parts = await asyncio.gather(
        *(
            infer(request, name, {"features": x[i : i + max_batch]}, version=version, coalesce=True)
            for i in range(0, len(x), max_batch)
        )
    )
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


@router.post("/v1/models/{name}/predict", response_model=PredictResponse, summary="Tabular prediction")
async def predict(
    request: Request, response: Response, svc: Svc, name: ModelName, body: Any = Body(...)
) -> PredictResponse:
    start = time.perf_counter()
    served = await svc.catalog.served(name, TabularContract)
    spec = served.contract.features
    x = encode(spec, records_from_body(body, svc.settings.max_records), served.contract.input_dtype)
    out = await _infer_rows(svc, request, name, x, served.version, await svc.catalog.max_batch(served))
    version = getattr(request.state, "triton_version", served.version)
    predictions = postprocess(spec.classes, out["label"], out["probabilities"])
    monitor = svc.monitor
    if monitor is not None:
        ids = monitor.record(
            name,
            version,
            x,
            [p.prediction for p in predictions],
            [p.confidence for p in predictions],
            (time.perf_counter() - start) * 1e3,
        )
        for prediction, pid in zip(predictions, ids, strict=True):
            prediction.prediction_id = pid
    return PredictResponse(
        model=name, version=version, weights=stamp(response, served), predictions=predictions
    )
