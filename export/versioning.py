"""Model versioning on top of Triton's numeric version directories.

Every written version gets a content id (``<name>@<sha256[:12]>``) and a record (timestamp,
source, metrics) in one index file at the repository root, ``index.json``; Triton ignores files
there. Writers take a lock so concurrent exports never lose each other's records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from modelserve.export.atomic import write_atomic

INDEX_NAME = "index.json"
_LOCK_NAME = ".index.lock"


def content_id(name: str, sha256: str) -> str:
    return f"{name}@{sha256[:12]}"


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _locked(repository: Path) -> Iterator[None]:
    with (repository / _LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_index(repository: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """{model: {version: record}}; empty when no index exists yet."""
    path = repository / INDEX_NAME
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text()))


def record_version(repository: Path, name: str, version: int, record: Mapping[str, Any]) -> None:
    with _locked(repository):
        index = read_index(repository)
        index.setdefault(name, {})[str(version)] = dict(record)
        write_atomic(repository / INDEX_NAME, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())


def forget_missing(repository: Path) -> None:
    """Drop index records whose version directory is gone (after a manual clean-up)."""
    with _locked(repository):
        index = read_index(repository)
        pruned = {
            name: {v: r for v, r in versions.items() if (repository / name / v).is_dir()}
            for name, versions in index.items()
        }
        pruned = {name: versions for name, versions in pruned.items() if versions}
        if pruned != index:
            write_atomic(
                repository / INDEX_NAME, (json.dumps(pruned, indent=2, sort_keys=True) + "\n").encode()
            )
