"""Vision routes: ``POST /v1/vision/{name}/classify`` (top-k ImageNet labels) and
``POST /v1/vision/{name}/features`` (the pooled embedding). The image comes as the raw body
(``Content-Type: image/jpeg|png|webp``) or as the ``image`` field of a multipart form.
Decoding and resizing run in a worker thread so the event loop keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from modelserve.api.catalog import Served
from modelserve.api.errors import BadRequestError
from modelserve.api.images import load_rgb, open_image, to_tensor, top_k
from modelserve.api.params import ModelName
from modelserve.api.services import Services, Svc
from modelserve.api.weights import Weights, stamp
from modelserve.contracts.model import ImageClassifierContract, ImageFeaturesContract

router = APIRouter()


class Label(BaseModel):
    label: str
    index: int
    confidence: float


class ClassifyResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    predictions: list[Label]


class FeaturesResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    dim: int
    embedding: list[float]


async def image_bytes(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise BadRequestError("multipart body needs a file field named 'image'")
        return bytes(await upload.read())
    return await request.body()


@asynccontextmanager
async def read_image(request: Request, svc: Services) -> AsyncIterator[tuple[bytes, Image.Image]]:
    """The uploaded bytes and their decoded RGB image, while the image's pixels are held in the
    decode budget (decoding in a worker thread, size limits checked from the header first)."""
    settings = svc.settings
    data = await image_bytes(request)
    header = await run_in_threadpool(
        open_image, data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
    )
    async with svc.pixels.hold(header.width * header.height):
        yield data, await run_in_threadpool(load_rgb, header)


async def _run(
    request: Request, svc: Services, served: Served[ImageClassifierContract] | Served[ImageFeaturesContract]
) -> Any:
    contract = served.contract
    async with read_image(request, svc) as (_, image):
        tensor = await run_in_threadpool(to_tensor, image, contract.image)
    out = await svc.gateway.infer(
        request, served.name, {contract.input: tensor}, outputs=[contract.output], version=served.version
    )
    return out[contract.output][0]


@router.post("/v1/vision/{name}/classify", response_model=ClassifyResponse, summary="Top-k image classes")
async def classify(
    request: Request, response: Response, svc: Svc, name: ModelName, k: int = Query(5, ge=1, le=100)
) -> ClassifyResponse:
    served = await svc.catalog.served(name, ImageClassifierContract)
    probabilities = await _run(request, svc, served)
    labels = svc.catalog.labels(served)
    return ClassifyResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
        predictions=[Label(**p) for p in top_k(probabilities, labels, k)],
    )


@router.post("/v1/vision/{name}/features", response_model=FeaturesResponse, summary="Pooled image embedding")
async def features(request: Request, response: Response, svc: Svc, name: ModelName) -> FeaturesResponse:
    served = await svc.catalog.served(name, ImageFeaturesContract)
    embedding = await _run(request, svc, served)
    return FeaturesResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
        dim=len(embedding),
        embedding=embedding.tolist(),
    )
