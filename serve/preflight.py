"""What can stop the embedded Triton from starting, checked without starting it or writing
anything: the binary, the stub's environment, the response caches, the ports, the work directory.

``EmbeddedTriton.start`` makes these checks as it starts; a flow that writes first (``modelserve
demo`` exports before it serves) runs ``check_can_start`` before it writes, so a taken port fails
while the repository is as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from modelserve.serve import ports, stub_env
from modelserve.serve.errors import CacheNotAvailableError, PathNotWritableError
from modelserve.serve.locate import TritonDistribution, locate_triton
from modelserve.serve.settings import ServerSettings


def check_caches(dist: TritonDistribution, cache_config: tuple[str, ...]) -> None:
    shipped = dist.caches()
    for value in cache_config:
        name = value.partition(",")[0]
        if name not in shipped:
            raise CacheNotAvailableError(
                f"response cache {name!r} is not shipped with this tritonserver "
                f"(available: {', '.join(shipped) or 'none'})"
            )


def check_writable_dir(path: Path, what: str) -> None:
    """``path`` is a directory this process can write into, or one it can create (its nearest
    existing ancestor is such a directory)."""
    found = path.absolute()
    while not found.exists() and found.parent != found:
        found = found.parent
    if not found.is_dir():
        raise PathNotWritableError(f"{what} {path}: {found} is a file, not a directory")
    if not os.access(found, os.W_OK | os.X_OK):
        raise PathNotWritableError(f"{what} {path}: {found} is not writable")


def check_can_start(settings: ServerSettings) -> None:
    """Every check of ``EmbeddedTriton.start`` that can fail, and nothing written. A port of 0 is
    picked at start, so it is not checked; a port may still be taken between this and the start."""
    dist = locate_triton()
    check_caches(dist, settings.cache_config)
    stub_env.locate(settings.stub_env)
    for port, what in (
        (settings.http_port, "HTTP"),
        (settings.grpc_port, "gRPC"),
        (settings.metrics_port, "metrics"),
    ):
        if port:
            ports.check_free(settings.host, port, what)
    check_writable_dir(settings.work_dir, "work directory")
