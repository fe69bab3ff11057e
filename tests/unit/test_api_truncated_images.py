"""Truncated and corrupt images are refused, never decoded into made-up pixels (no server)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFile

from modelserve.api.app import create_app
from modelserve.serve.ports import free_port
from modelserve.serving.errors import ApiError, BadRequestError
from modelserve.serving.images import decode_image
from modelserve.serving.jpeg import MAX_SEGMENTS, layout
from modelserve.serving.settings import ApiSettings

LIMITS = {"max_bytes": 10**7, "max_pixels": 40_000_000}
EOI = b"\xff\xd9"


def _jpeg(size=(640, 480), **options: object) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "JPEG", **options)
    return buf.getvalue()


def _with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0) claiming another size."""
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def _scan_cut(data: bytes, keep: int) -> bytes:
    """The header and the first ``keep`` bytes of image data (the scan's data starts after SOS)."""
    sos = data.index(b"\xff\xda")
    (header,) = struct.unpack(">H", data[sos + 2 : sos + 4])
    return data[: sos + 2 + header + keep]


@pytest.mark.parametrize("end", [b"", EOI], ids=["cut", "cut-then-end-marker"])
def test_a_jpeg_declaring_6000x6000_over_333_bytes_of_data_is_refused(end):
    bad = _scan_cut(_with_size(_jpeg((64, 64)), 6000, 6000), 333) + end
    with pytest.raises(BadRequestError, match="corrupt JPEG image: truncated") as err:
        decode_image(bad, **LIMITS)
    assert "6000x6000" in err.value.message and "it has 333" in err.value.message


@pytest.mark.parametrize("keep", [0.2, 0.6, 0.95])
@pytest.mark.parametrize("options", [{}, {"restart_marker_rows": 1}, {"subsampling": 0}])
def test_a_baseline_jpeg_cut_short_is_refused_even_with_an_end_marker_after_the_cut(keep, options):
    # libjpeg fills the missing blocks with grey and only warns; Pillow ignores the warning.
    whole = _jpeg(**options)
    sos = whole.index(b"\xff\xda")
    cut = whole[: sos + int((len(whole) - sos) * keep)]
    for bad in (cut, cut + EOI):
        with pytest.raises(BadRequestError, match="corrupt JPEG image: truncated"):
            decode_image(bad, **LIMITS)


@pytest.mark.parametrize(
    ("size", "options", "mode"),
    [
        ((640, 480), {}, "RGB"),
        ((33, 17), {"quality": 10, "optimize": True}, "RGB"),
        ((640, 480), {"restart_marker_blocks": 4}, "RGB"),
        ((640, 480), {"subsampling": 0, "quality": 100}, "L"),
        ((640, 480), {"progressive": True}, "RGB"),
        ((1, 1), {}, "CMYK"),
    ],
)
def test_intact_jpegs_decode_to_the_same_pixels_as_pillow_alone(size, options, mode):
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    image.save(buf, "JPEG", **options)
    reference = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    np.testing.assert_array_equal(np.asarray(decode_image(buf.getvalue(), **LIMITS)), np.asarray(reference))


def test_the_layout_counts_image_data_across_stuffed_bytes_and_restart_markers():
    whole = _jpeg(restart_marker_rows=1)
    found = layout(whole)
    assert found is not None and (found.width, found.height, found.scans) == (640, 480, 1)
    sos = whole.index(b"\xff\xda")
    (header,) = struct.unpack(">H", whole[sos + 2 : sos + 4])
    assert found.end == len(whole) - 2 and found.data_bytes == len(whole) - 2 - (sos + 2 + header)
    assert layout(b"\xff\xd8" + b"\x00" * 10) is None  # no frame: Pillow judges it
    junk = whole[:2] + b"\x00" * 5 + whole[2:]  # stray bytes before a marker, as libjpeg skips them
    assert layout(junk) is not None and layout(junk).data_bytes == found.data_bytes  # type: ignore[union-attr]
    comments = whole[:2] + b"\xff\xfe\x00\x02" * (MAX_SEGMENTS + 1) + whole[2:]
    assert layout(comments) is None  # too many segments to walk: Pillow alone judges it
    assert decode_image(comments, **LIMITS).size == (640, 480)


def test_decoding_refuses_to_run_with_pillows_truncated_images_switch_on(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ApiError, match="LOAD_TRUNCATED_IMAGES"):
        decode_image(_jpeg((8, 8)), **LIMITS)


def test_the_image_routes_answer_400_naming_the_truncation():
    settings = ApiSettings(triton_url=f"127.0.0.1:{free_port()}", monitoring=False, request_timeout_s=2)
    bad = _scan_cut(_with_size(_jpeg((64, 64)), 6000, 6000), 333) + EOI
    with TestClient(create_app(settings)) as client:
        resp = client.post("/v1/vision/enhance", content=bad, headers={"content-type": "image/jpeg"})
        ok = client.post(
            "/v1/vision/enhance", content=_jpeg((64, 64)), headers={"content-type": "image/jpeg"}
        )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "bad_request" and "truncated" in resp.json()["error"]["message"]
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/jpeg"
