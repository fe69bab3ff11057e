"""Model versioning on top of Triton's numeric version directories.

Every written version gets a content id (``<name>@<sha256[:12]>``) and a record (timestamp,
source, metrics) in one index file at the repository root, ``index.json``; Triton ignores files
there. Writers take a lock so concurrent exports never lose each other's records.

Times: the index records when a version was written (a fact about the repository, not about the
export). A version's own files carry no wall-clock time, so two exports of the same source are the
same bytes; ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) pins both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from modelserve.repository.atomic import write_atomic

INDEX_NAME = "index.json"
_LOCK_NAME = ".index.lock"
Records = dict[str, dict[str, dict[str, Any]]]  # model -> version -> record


def content_id(name: str, sha256: str) -> str:
    return f"{name}@{sha256[:12]}"


def source_date() -> str | None:
    """``$SOURCE_DATE_EPOCH`` as an ISO date-time in UTC; None where it is not set."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970")
    return dt.datetime.fromtimestamp(int(raw), dt.UTC).isoformat(timespec="seconds")


def now_utc() -> str:
    """When a version is written: ``$SOURCE_DATE_EPOCH`` where set, else now."""
    return source_date() or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Index:
    """``<root>/index.json``: what was written, when, from what."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / _LOCK_NAME).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> Records:
        """{model: {version: record}}; empty when no index exists yet."""
        path = self.root / INDEX_NAME
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text()))

    def record(self, name: str, version: int, record: Mapping[str, Any]) -> None:
        with self._locked():
            index = self.read()
            index.setdefault(name, {})[str(version)] = dict(record)
            self._write(index)

    def forget_missing(self) -> None:
        """Drop records whose version directory is gone (after a manual clean-up)."""
        with self._locked():
            index = self.read()
            pruned = {
                name: {v: r for v, r in versions.items() if (self.root / name / v).is_dir()}
                for name, versions in index.items()
            }
            pruned = {name: versions for name, versions in pruned.items() if versions}
            if pruned != index:
                self._write(pruned)

    def _write(self, index: Records) -> None:
        write_atomic(self.root / INDEX_NAME, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())
