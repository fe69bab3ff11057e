"""Image decoding and tensor preparation for the vision routes (no server)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from modelserve.contracts.image import ImagePreprocessing
from modelserve.serving.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaError
from modelserve.serving.images import decode_image, to_tensor, top_k

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 1_000_000}


def _encoded(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_supported_formats_decode_to_rgb(fmt):
    image = decode_image(_encoded(fmt), **LIMITS)
    assert image.mode == "RGB" and image.size == (40, 30)


def test_grey_and_alpha_images_become_rgb():
    assert decode_image(_encoded("PNG", mode="L"), **LIMITS).mode == "RGB"
    assert decode_image(_encoded("PNG", mode="RGBA"), **LIMITS).mode == "RGB"


def test_empty_corrupt_and_foreign_inputs_are_named():
    with pytest.raises(BadRequestError, match="empty"):
        decode_image(b"", **LIMITS)
    with pytest.raises(UnsupportedMediaError, match="supported"):
        decode_image(b"hello, not an image", **LIMITS)
    with pytest.raises(UnsupportedMediaError, match="GIF"):
        decode_image(_encoded("GIF"), **LIMITS)
    with pytest.raises(BadRequestError, match="corrupt PNG"):
        decode_image(_encoded("PNG")[:200], **LIMITS)


def test_limits_on_bytes_and_pixels():
    with pytest.raises(PayloadTooLargeError, match="bytes"):
        decode_image(_encoded("PNG"), max_bytes=100, max_pixels=10**6)
    with pytest.raises(PayloadTooLargeError, match="40x30 pixels"):
        decode_image(_encoded("PNG"), max_bytes=10**6, max_pixels=1000)


def test_tensor_follows_the_contract_size_and_keeps_0_255_rgb():
    image = decode_image(_encoded("PNG"), **LIMITS)
    same = to_tensor(image, ImagePreprocessing(size=(30, 40), resize="nearest"))
    np.testing.assert_array_equal(same[0], np.asarray(image, dtype=np.float32))
    assert to_tensor(image, ImagePreprocessing(size=(8, 16))).shape == (1, 8, 16, 3)


def test_tensor_honours_layout_channel_order_and_range():
    image = decode_image(_encoded("PNG"), **LIMITS)
    rgb = np.asarray(image, dtype=np.float32)
    spec = ImagePreprocessing(size=(30, 40), layout="NCHW", channel_order="BGR", range=(-1.0, 1.0))
    x = to_tensor(image, spec)
    assert x.shape == (1, 3, 30, 40)
    np.testing.assert_allclose(x[0, 0], rgb[..., 2] / 127.5 - 1.0, atol=1e-6)  # B first, in [-1, 1]


def test_top_k_orders_by_confidence():
    top = top_k(np.array([0.1, 0.6, 0.3], dtype=np.float32), ["a", "b", "c"], 2)
    assert [t["label"] for t in top] == ["b", "c"] and top[0]["index"] == 1


def test_an_exif_orientation_is_applied_and_16_bit_images_are_scaled_not_clipped():
    photo = Image.new("RGB", (400, 200), (200, 10, 10))
    exif = photo.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": a phone held upright
    buf = io.BytesIO()
    photo.save(buf, "JPEG", exif=exif.tobytes())
    upright = decode_image(buf.getvalue(), max_bytes=10**7, max_pixels=10**7)
    assert upright.size == (200, 400)

    wide = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16))  # 16-bit greyscale
    buf = io.BytesIO()
    wide.save(buf, "PNG")
    rgb = np.asarray(decode_image(buf.getvalue(), max_bytes=10**7, max_pixels=10**7))
    assert rgb[0, :, 0].tolist() == [0, 128, 255]  # Pillow's own conversion gave [0, 255, 255]
