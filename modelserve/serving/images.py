"""Image bytes -> the tensor a vision model's contract asks for. Plain functions, no HTTP.

Decoding and resizing follow Keras' own ``keras.utils.load_img(path, target_size=...)``: PIL,
converted to RGB, nearest-neighbour resize (Keras' default), float32 0..255, NHWC. The rest of the
preprocessing is inside the exported graph. Two departures, both for images Keras reads wrongly:
an EXIF orientation is applied (a phone photo is read upright, as a viewer shows it), and 16-bit
images are scaled to 8 bits (Pillow's RGB conversion clips them: a 16-bit PNG came out white).
An image whose data ends before its pixels do is refused, never filled in: Pillow's
``LOAD_TRUNCATED_IMAGES`` stays off, and a JPEG is checked by its structure (``serving.jpeg``).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from modelserve.contracts.image import ImagePreprocessing
from modelserve.serving.errors import (
    ApiError,
    BadRequestError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)
from modelserve.serving.jpeg import layout, strict_bytes

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
    return _strict_jpeg(data, image) if image.format == "JPEG" else image


def _strict_jpeg(data: bytes, image: Image.Image) -> Image.Image:
    """The JPEG to decode: refused when its data cannot fill the declared size, and reopened so
    that data ending early fails to decode (``serving.jpeg`` says why both are needed)."""
    jpeg = layout(data)
    if jpeg is None:
        return image
    if jpeg.data_bytes < jpeg.min_data_bytes:
        raise BadRequestError(
            f"corrupt JPEG image: truncated, its header declares {jpeg.width}x{jpeg.height} pixels, which "
            f"need at least {jpeg.min_data_bytes} bytes of image data; it has {jpeg.data_bytes}"
        )
    if not jpeg.strict_decodable:
        return image
    return Image.open(io.BytesIO(strict_bytes(data, jpeg)))


def load_rgb(image: Image.Image) -> Image.Image:
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # Pillow's global, set by some library: it fills in the gaps
        raise ApiError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on: truncated images would decode as garbage")
    try:
        image.load()
        image = _upright(image)
        if image.mode in WIDE_MODES:
            image = _to_8_bits(image)
        # Already RGB (most JPEGs): convert() would copy every pixel for nothing (~0.15 ms at 640x480).
        return image if image.mode == "RGB" else image.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise PayloadTooLargeError(f"image too large to decode: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated, or a header alone
        why = "truncated, the data ends before the pixels" if "truncated" in str(exc) else str(exc)
        raise BadRequestError(f"corrupt {image.format} image: {why}") from exc


WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ORIENTATION = 0x0112  # the EXIF tag; 1 is upright


def _upright(image: Image.Image) -> Image.Image:
    """The image as a viewer shows it. The tag is read first: transposing always would copy every
    pixel of every image."""
    if image.getexif().get(_ORIENTATION, 1) in (0, 1):
        return image
    return ImageOps.exif_transpose(image)


def _to_8_bits(image: Image.Image) -> Image.Image:
    """16-bit greyscale (and 32-bit integer, holding 16-bit PNG data) scaled to 0..255."""
    values = np.asarray(image, dtype=np.float32)
    return Image.fromarray(np.clip(np.rint(values * (255.0 / 65535.0)), 0, 255).astype(np.uint8), "L")


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
