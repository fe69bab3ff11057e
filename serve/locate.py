"""Find the parts of the ``nvidia-pytriton`` wheel the embedded server needs.

We never import ``pytriton`` (it pins numpy<2); we only read files the wheel installs.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from modelserve.serve.errors import TritonNotInstalledError, UnsupportedPythonError

logger = logging.getLogger(__name__)

SUPPORTED_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


@dataclass(frozen=True, kw_only=True)
class TritonDistribution:
    """Paths inside an installed nvidia-pytriton wheel."""

    root: Path  # .../site-packages/pytriton/tritonserver
    binary: Path
    python_backend_dir: Path  # holds libtriton_python.so and triton_python_backend_utils.py
    stub: Path
    libs_dir: Path  # .../site-packages/nvidia_pytriton.libs (bundled libcudart, ...)
    cache_dir: Path  # caches/<name>/libtritoncache_<name>.so (the wheel ships "local")

    def caches(self) -> tuple[str, ...]:
        """Response-cache implementations the wheel ships (what ``--cache-config`` may name)."""
        if not self.cache_dir.is_dir():
            return ()
        return tuple(sorted(d.name for d in self.cache_dir.iterdir() if d.is_dir()))


def _site_packages_with_pytriton() -> Path:
    # find_spec locates the package without executing its __init__ (which would import numpy<2 code).
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonNotInstalledError(
            "the tritonserver binary comes from the 'nvidia-pytriton' wheel, which is not installed; "
            "run `make setup` or `pip install --no-deps nvidia-pytriton==0.7.0`"
        )
    return Path(next(iter(spec.submodule_search_locations))).parent


def python_version_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def locate_triton() -> TritonDistribution:
    """Return the wheel's paths, or raise a typed error that says what is missing."""
    site = _site_packages_with_pytriton()
    root = site / "pytriton" / "tritonserver"
    version = python_version_tag()
    if version not in SUPPORTED_PYTHONS:
        raise UnsupportedPythonError(
            f"Python {version} has no Triton Python backend stub; supported: {', '.join(SUPPORTED_PYTHONS)}"
        )
    dist = TritonDistribution(
        root=root,
        binary=root / "bin" / "tritonserver",
        python_backend_dir=root / "backends" / "python",
        stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
        libs_dir=site / "nvidia_pytriton.libs",
        cache_dir=root / "caches",
    )
    for path in (dist.binary, dist.python_backend_dir, dist.stub):
        if not path.exists():
            raise TritonNotInstalledError(f"nvidia-pytriton is incomplete: {path} is missing")
    return dist


def libpython_dir() -> Path:
    """Directory holding the interpreter's libpython (the stub links against it)."""
    return Path(sysconfig.get_config_var("LIBDIR") or Path(sys.base_prefix) / "lib")
