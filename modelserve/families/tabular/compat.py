"""``POST /predict``: the original Flask service's route, for services migrating from it.

It takes one flat record (a JSON object; a list of them also works) for the one tabular model
named by ``MODELSERVE_COMPAT_MODEL``, and answers in the original's shape:
``{"prediction": [label, ...], "probability": [[p, ...], ...], "confidence": max p}``, columns in
the model's class order (``labels.txt``). Errors keep the original's shape too,
``{"error": "message"}``, with this API's status codes (the original said 400 to everything).
Everything else (validation, coalescing, monitoring, the ``modelserve-weights`` header) is the
tabular route's.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from modelserve.client import ClientError
from modelserve.families.tabular.contract import TabularContract
from modelserve.families.tabular.handler import predict_records
from modelserve.monitor.errors import StoreError
from modelserve.serving.bodies import check_json_content_type
from modelserve.serving.call import Call
from modelserve.serving.errors import (
    ApiError,
    AsciiJSONResponse,
    NotFoundError,
    UnavailableError,
    UnprocessableError,
    from_client_error,
)
from modelserve.serving.services import Svc

router = APIRouter()


class CompatResponse(BaseModel):
    prediction: list[str]
    probability: list[list[float]]
    confidence: float


class CompatError(BaseModel):
    error: str


@router.post(
    "/predict",
    response_model=CompatResponse,
    responses={code: {"model": CompatError} for code in (404, 413, 415, 422, 503, 504)},
    summary="Compatibility: the original Flask service's /predict for the configured tabular model",
)
async def predict(request: Request, response: Response, svc: Svc) -> Any:
    try:
        name = svc.settings.compat_model
        if not name:
            raise NotFoundError("POST /predict serves one tabular model: set MODELSERVE_COMPAT_MODEL")
        check_json_content_type(request.headers.get("content-type"))  # as every JSON route
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise UnprocessableError(f"body is not valid JSON: {exc}") from exc
        call = await Call.open(svc, request, response, name, TabularContract)
        answer = await predict_records(call, body)  # sets modelserve-weights
    except (ApiError, ClientError, StoreError) as exc:
        error = (
            exc
            if isinstance(exc, ApiError)
            else UnavailableError(str(exc))
            if isinstance(exc, StoreError)
            else from_client_error(exc)
        )
        return AsciiJSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)
    classes = list(answer.predictions[0].probabilities) if answer.predictions else []
    return CompatResponse(
        prediction=[p.prediction for p in answer.predictions],
        probability=[[p.probabilities[c] for c in classes] for p in answer.predictions],
        confidence=max((p.confidence for p in answer.predictions), default=0.0),
    )
