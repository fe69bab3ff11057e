"""An uploaded image, as the image routes take it: the raw body (``Content-Type: image/jpeg|png|
webp``) or the ``image`` field of a multipart form. Size limits are checked from the header before
decoding; decoding runs in a worker thread while the image's pixels are held in the decode budget,
so the event loop keeps serving and concurrent uploads cannot exhaust memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from PIL import Image
from starlette.concurrency import run_in_threadpool

from modelserve.serving.errors import BadRequestError
from modelserve.serving.images import load_rgb, open_image
from modelserve.serving.services import Services


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
    """The uploaded bytes and their decoded RGB image, while its pixels are held in the budget."""
    settings = svc.settings
    data = await image_bytes(request)
    header = await run_in_threadpool(
        open_image, data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
    )
    async with svc.pixels.hold(header.width * header.height):
        yield data, await run_in_threadpool(load_rgb, header)
