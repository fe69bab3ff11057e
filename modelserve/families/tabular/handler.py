"""``POST /v1/models/{name}/predict``: class predictions for records of a tabular model.

One record (a JSON object) or a list of records. The exported feature spec validates and encodes
them (a missing, unknown or mistyped field is a 422 naming it); Triton runs the pipeline; the
answer gives each record's predicted class, per-class probabilities and confidence, and a
prediction id monitoring can take feedback for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from modelserve.contracts.tabular import FeatureSpec, FeatureValidationError
from modelserve.families.tabular.contract import TabularContract
from modelserve.serving.call import Call, ModelAnswer, call_for
from modelserve.serving.errors import PayloadTooLargeError, UnprocessableError

router = APIRouter()
TabularCall = Annotated[Call[TabularContract], Depends(call_for(TabularContract))]


class Prediction(BaseModel):
    prediction: str
    probabilities: dict[str, float]
    confidence: float
    prediction_id: str | None = None  # for feedback (POST /v1/monitoring/{model}/feedback)


class PredictResponse(ModelAnswer):
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


async def predict_records(call: Call[TabularContract], body: Any) -> PredictResponse:
    """The route's work, transport-free: the compatibility route serves through it too."""
    spec = call.contract.features
    records = records_from_body(body, call.svc.settings.max_records)
    x = encode(spec, records, call.contract.input_dtype)
    out = await call.infer_rows({"features": x}, coalesce=True)
    predictions = postprocess(call.contract.features.classes, out["label"], out["probabilities"])
    ids = call.record([p.prediction for p in predictions], [p.confidence for p in predictions], x)
    for prediction, pid in zip(predictions, ids or (), strict=False):
        prediction.prediction_id = pid
    return call.answer(PredictResponse, predictions=predictions)


@router.post("/v1/models/{name}/predict", response_model=PredictResponse, summary="Tabular prediction")
async def predict(call: TabularCall, body: Any = Body(...)) -> PredictResponse:
    return await predict_records(call, body)
