"""Image bytes -> the tensor a vision model's contract asks for. Plain functions, no HTTP.

Decoding and resizing follow Keras' own ``keras.utils.load_img(path, target_size=...)``: PIL,
converted to RGB, nearest-neighbour resize (Keras' default), float32 0..255, NHWC. The rest of the
preprocessing is inside the exported graph.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from api.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaError
from contracts.model import ImagePreprocessing

FORMATS = ("JPEG", "PNG", "WEBP")
RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR}


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """``open_image`` then ``load_rgb``: the whole decode in one call."""
    return load_rgb(open_image(data, max_bytes=max_bytes, max_pixels=max_pixels))


def open_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """The image with only its header read: format and size checked, no pixels decoded yet."""
    if not data:
        raise BadRequestError("empty image")
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"image of {len(data)} bytes; the limit is {max_bytes}")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaError(f"not an image in a supported format ({', '.join(FORMATS)})") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own limit (far above ours), from the header
        raise PayloadTooLargeError(
            f"image too large to decode: over {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels; "
            f"the limit is {max_pixels} pixels"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # a header Pillow cannot parse
        raise BadRequestError(f"corrupt image: {exc}") from exc
    if image.format not in FORMATS:
        raise UnsupportedMediaError(f"image format {image.format}; supported: {', '.join(FORMATS)}")
    width, height = image.size
    if width * height > max_pixels:  # checked before decoding the pixels: no decompression bombs
        raise PayloadTooLargeError(f"image of {width}x{height} pixels; the limit is {max_pixels} pixels")
    return image


def load_rgb(image: Image.Image) -> Image.Image:
    try:
        image.load()
        # Already RGB (most JPEGs): convert() would copy every pixel for nothing (~0.15 ms at 640x480).
        return image if image.mode == "RGB" else image.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise PayloadTooLargeError(f"image too large to decode: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated, or a header alone
        raise BadRequestError(f"corrupt {image.format} image: {exc}") from exc


def to_tensor(image: Image.Image, spec: ImagePreprocessing) -> np.ndarray:
    """[1, H, W, 3] (or [1, 3, H, W]) float32 at the contract's size and range, resized as it says."""
    height, width = spec.size
    if image.size != (width, height):
        image = image.resize((width, height), RESAMPLE[spec.resize])
    x = np.asarray(image, dtype=np.float32)
    if spec.channel_order == "BGR":
        x = x[..., ::-1]
    low, high = spec.range
    if (low, high) != (0.0, 255.0):
        x = x * ((high - low) / 255.0) + low
    if spec.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None, ...])


def top_k(probabilities: np.ndarray, labels: list[str], k: int) -> list[dict[str, Any]]:
    order = np.argsort(-probabilities)[:k]
    return [
        {
            "label": labels[i] if i < len(labels) else str(i),
            "index": int(i),
            "confidence": float(probabilities[i]),
        }
        for i in order
    ]
