"""``POST /v1/vision/enhance?kind=sharpen|denoise|brightness``: image enhancements with OpenCV
(no model, no Triton), returned as an image of the same format (PNG for WebP input)."""

from __future__ import annotations

import io
from typing import Literal

import cv2
import numpy as np
from fastapi import APIRouter, Query, Request, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from modelserve.serving.errors import BadRequestError, PayloadTooLargeError
from modelserve.serving.services import Svc
from modelserve.serving.uploads import read_image

router = APIRouter()
Kind = Literal["sharpen", "denoise", "brightness"]
SHARPEN = np.array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]], dtype=np.float32)


def enhance(bgr: np.ndarray, kind: Kind) -> np.ndarray:
    """Sharpen (3x3 kernel), denoise (non-local means) or brighten (x1.2 + 30) a BGR uint8 array,
    as cv2.imread gives it (denoising works in Lab space, so channel order matters)."""
    if kind == "sharpen":
        return np.asarray(cv2.filter2D(bgr, -1, SHARPEN))
    if kind == "denoise":
        return np.asarray(cv2.fastNlMeansDenoisingColored(bgr, None, 10, 10, 7, 21))
    return np.asarray(cv2.convertScaleAbs(bgr, alpha=1.2, beta=30))


def encode(bgr: np.ndarray, fmt: str) -> tuple[bytes, str]:
    ext, media = (".jpg", "image/jpeg") if fmt == "JPEG" else (".png", "image/png")
    ok, buf = cv2.imencode(ext, bgr)
    if not ok:
        raise BadRequestError("could not encode the enhanced image")
    return buf.tobytes(), media


def _format(data: bytes) -> str:
    """The upload's format (PIL reads only the header), to answer in kind."""
    with Image.open(io.BytesIO(data)) as image:
        return str(image.format)


@router.post(
    "/v1/vision/enhance",
    summary="Sharpen, denoise or brighten an image (returns an image)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "the enhanced image"}},
)
async def enhance_route(request: Request, svc: Svc, kind: Kind = Query("sharpen")) -> Response:
    async with read_image(request, svc) as (data, image):
        pixels, limit = image.width * image.height, svc.settings.max_denoise_pixels
        if kind == "denoise" and pixels > limit:
            # Non-local means costs ~2 CPU-s per megapixel here and cannot be interrupted once
            # started (a 4000x4000 image burnt 36 CPU-s after its client had gone).
            raise PayloadTooLargeError(f"denoise takes images up to {limit} pixels; this one has {pixels}")
        if await request.is_disconnected():
            return Response(status_code=499)  # nobody is waiting: do not start the work
        bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
        out = await run_in_threadpool(enhance, bgr, kind)
        body, media = await run_in_threadpool(encode, out, _format(data))
    return Response(content=body, media_type=media)
