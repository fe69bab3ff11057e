"""Vision routes: ``POST /v1/vision/{name}/classify`` (top-k labels) and
``POST /v1/vision/{name}/features`` (the pooled embedding). The image comes as the raw body or the
``image`` field of a multipart form (``modelserve.serving.uploads``); decoding and resizing run in
a worker thread so the event loop keeps serving."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from modelserve.families.vision.contract import ImageClassifierContract, ImageFeaturesContract
from modelserve.serving.call import Call, ModelAnswer, call_for
from modelserve.serving.images import to_tensor, top_k
from modelserve.serving.uploads import read_image

router = APIRouter()
ClassifierCall = Annotated[Call[ImageClassifierContract], Depends(call_for(ImageClassifierContract))]
FeaturesCall = Annotated[Call[ImageFeaturesContract], Depends(call_for(ImageFeaturesContract))]


class Label(BaseModel):
    label: str
    index: int
    confidence: float


class ClassifyResponse(ModelAnswer):
    predictions: list[Label]
    prediction_id: str | None = None  # the top label's, for feedback (monitoring on)


class FeaturesResponse(ModelAnswer):
    dim: int
    embedding: list[float]


async def _run(call: Call[ImageClassifierContract] | Call[ImageFeaturesContract]) -> np.ndarray:
    contract = call.contract
    async with read_image(call.request, call.svc) as (_, image):
        tensor = await run_in_threadpool(to_tensor, image, contract.image)
    out = await call.infer({contract.input: tensor}, outputs=[contract.output])
    embedding: np.ndarray = out[contract.output][0]
    return embedding


@router.post("/v1/vision/{name}/classify", response_model=ClassifyResponse, summary="Top-k image classes")
async def classify(call: ClassifierCall, k: int = Query(5, ge=1, le=100)) -> ClassifyResponse:
    probabilities = await _run(call)
    labels = [Label(**p) for p in top_k(probabilities, call.svc.catalog.labels(call.served), k)]
    ids = call.record([labels[0].label], [labels[0].confidence])
    return call.answer(ClassifyResponse, predictions=labels, prediction_id=ids[0] if ids else None)


@router.post("/v1/vision/{name}/features", response_model=FeaturesResponse, summary="Pooled image embedding")
async def features(call: FeaturesCall) -> FeaturesResponse:
    embedding = await _run(call)
    return call.answer(FeaturesResponse, dim=len(embedding), embedding=embedding.tolist())
