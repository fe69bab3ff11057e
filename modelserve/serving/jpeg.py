"""A JPEG's structure, read before its pixels are decoded: is there data enough for the size its
header declares, and where does its last scan end.

libjpeg treats data that ends early as a *warning*: it fills the rest of the image with zeros and
Pillow, which ignores libjpeg's warnings, answers with a complete-looking image. A 6000x6000 header
over 333 bytes of data decoded to garbage this way. Two checks close that:

- every 8x8 block of the largest component costs at least one bit of Huffman-coded data (its DC
  symbol), so a header declaring more blocks than the data has bits is refused before anything is
  decoded (a decompression bomb from a few hundred bytes, too);
- a single-scan (baseline) image is decoded without its end-of-image marker, followed by a few
  bytes of fill. libjpeg then runs out of data instead of hitting a marker, and Pillow calls that
  a truncated file. The fill is what libjpeg reads ahead (up to 57 bits) past the last block of an
  intact image. Progressive images need their end marker to finish, so they get the first check
  only.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

# Huffman-coded frames (baseline, extended, progressive, lossless); arithmetic coding can spend
# less than a bit on a block, so its images get no bound.
_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3})
_SEQUENTIAL = frozenset({0xC0, 0xC1})
_FRAMES = frozenset({*_HUFFMAN_FRAMES, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RST0-7, SOI: markers without a segment
# The marker ending a scan's data: 0xFF followed by neither 0x00 (a stuffed data byte 0xFF), a
# restart marker, nor another 0xFF (fill: the marker starts at the last one).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
SOS, EOI = 0xDA, 0xD9
# 0xFF followed by 0x00 is a data byte 0xFF: eight of them, more than libjpeg's read-ahead.
FILL = b"\xff\x00" * 8
# Real JPEGs have tens of segments; walking millions of tiny ones in Python is work a crafted
# upload could ask for. Past this, the checks are skipped and Pillow's decoding judges alone.
MAX_SEGMENTS = 4096


@dataclass(frozen=True, kw_only=True)
class JpegLayout:
    frame: int  # the SOF marker: 0xC0 baseline, 0xC2 progressive, ...
    width: int
    height: int
    scans: int
    data_bytes: int  # Huffman-coded bytes over all scans (stuffing and restart markers included)
    end: int | None  # offset of the end-of-image marker, None when the file has none

    @property
    def min_data_bytes(self) -> int:
        """Bytes the data needs at the least for the declared size (0: no bound for this coding)."""
        if self.frame not in _HUFFMAN_FRAMES:
            return 0
        blocks = -(-self.width // 8) * -(-self.height // 8)
        return -(-blocks // 8)

    @property
    def strict_decodable(self) -> bool:
        return self.frame in _SEQUENTIAL and self.scans == 1 and self.end is not None


def layout(data: bytes) -> JpegLayout | None:
    """Walk the segments from SOI to EOI (or the end of the bytes). None where they make no sense
    (no frame header, no scan, a segment past the end, too many segments): Pillow's own decoding
    judges those."""
    frame: tuple[int, int, int] | None = None
    scans = data_bytes = segments = 0
    i, size = 2, len(data)
    while i + 1 < size:
        if data[i] != 0xFF:  # stray bytes between segments: libjpeg skips them, so do we
            i = data.find(b"\xff", i)
            if i == -1:
                break
            continue
        segments += 1
        if segments > MAX_SEGMENTS:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill before a marker
            i += 1
            continue
        if marker == EOI:
            return _layout(frame, scans, data_bytes, i)
        if marker in _NO_LENGTH:
            i += 2
            continue
        if i + 4 > size:
            return None
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if length < 2 or i + 2 + length > size:
            return None
        if marker in _FRAMES and length >= 7:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            frame = (marker, width, height)
        i += 2 + length
        if marker == SOS:
            scans += 1
            found = _SCAN_END.search(data, i)
            end = found.start() if found else size
            data_bytes += end - i
            i = end
    return _layout(frame, scans, data_bytes, None)


def _layout(
    frame: tuple[int, int, int] | None, scans: int, data_bytes: int, end: int | None
) -> JpegLayout | None:
    if frame is None or scans == 0:
        return None
    marker, width, height = frame
    return JpegLayout(frame=marker, width=width, height=height, scans=scans, data_bytes=data_bytes, end=end)


def strict_bytes(data: bytes, jpeg: JpegLayout) -> bytes:
    """What to decode so that data ending early is an error: for a single-scan image, the bytes up
    to its end marker and the fill instead of the marker; otherwise the bytes as they are."""
    if not jpeg.strict_decodable or jpeg.end is None:
        return data
    return data[: jpeg.end] + FILL
