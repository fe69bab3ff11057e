"""One embedded Triton for the conformance suite, serving tests/conformance/repository.py's models
with the response cache on (as `modelserve serve --cache-config local,size=1048576` runs it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelserve.ops.stack import local_triton
from modelserve.serve.server import EmbeddedTriton
from tests.conformance.repository import CACHE_CONFIG, build


@pytest.fixture(scope="session")
def conformance_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conformance_repository")
    build(root)
    return root


@pytest.fixture(scope="session")
def triton(
    conformance_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedTriton]:
    with local_triton(
        conformance_repository,
        tmp_path_factory.mktemp("conformance_work"),
        cache_config=CACHE_CONFIG,
        ready_timeout_s=180.0,
        # Stock Triton leaves these APIs open; the suite checks them as Triton defines them.
        # tests/integration/test_api_hostile.py and test_supervision.py cover the lock.
        lock_control_plane=False,
    ) as server:
        yield server
