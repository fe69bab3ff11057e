"""Lay out the backend directory the embedded tritonserver loads backends from.

<backend-dir>/python/        real copies of libtriton_python.so, triton_python_backend_utils.py
                              and the stub for this Python (Triton refuses symlinks here)
<backend-dir>/onnxruntime/   our Python-based ONNX Runtime backend (model.py + runner)
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from modelserve.serve.locate import TritonDistribution

logger = logging.getLogger(__name__)

BACKEND_SOURCES = Path(__file__).parent / "backend"
BACKEND_FILES = (
    "model.py",
    "modelserve_ort_runner.py",
    "modelserve_host_staging.py",
    "modelserve_signature.py",
    "modelserve_autocomplete.py",
    "modelserve_sequence.py",
)
PYTHON_BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
        return
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copy2(src, tmp)
    tmp.replace(dst)  # atomic, so a server reading the directory never sees half a file


def prepare_backend_dir(dist: TritonDistribution, backend_dir: Path) -> Path:
    """Create or refresh ``backend_dir``; returns it. Idempotent and cheap when up to date."""
    python_dir = backend_dir / "python"
    ort_dir = backend_dir / "onnxruntime"
    python_dir.mkdir(parents=True, exist_ok=True)
    ort_dir.mkdir(parents=True, exist_ok=True)
    for name in PYTHON_BACKEND_FILES:
        _copy_if_changed(dist.python_backend_dir / name, python_dir / name)
    _copy_if_changed(dist.stub, python_dir / "triton_python_backend_stub")
    (python_dir / "triton_python_backend_stub").chmod(0o755)
    for name in BACKEND_FILES:
        _copy_if_changed(BACKEND_SOURCES / name, ort_dir / name)
    logger.debug("backend directory ready at %s", backend_dir)
    return backend_dir
