"""Replacing a repository file so a reader (Triton, the API) sees the old file or the new one, never
half of one: write beside it under a hidden name, then rename over it. The one writer every file
of the repository (and the work directory) goes through."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def write_atomic(path: Path, data: bytes) -> None:
    tmp = _temporary(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def copy_atomic(source: Path, path: Path) -> None:
    """``source`` copied over ``path`` (mode and times kept), unless ``path`` holds the same bytes."""
    if (
        path.exists()
        and path.stat().st_size == source.stat().st_size
        and path.read_bytes() == source.read_bytes()
    ):
        return
    tmp = _temporary(path)
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
