"""Lay out the backend directory the embedded tritonserver loads backends from.

<backend-dir>/python/        real copies of libtriton_python.so, triton_python_backend_utils.py
                              and the stub for this Python (Triton refuses symlinks here)
<backend-dir>/onnxruntime/   our Python-based ONNX Runtime backend (model.py + runner)
"""

from __future__ import annotations

import logging
from pathlib import Path

from modelserve.repository.atomic import copy_atomic
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
    "modelserve_parameters.py",
    "modelserve_runner_settings.py",
)
PYTHON_BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")


def prepare_backend_dir(dist: TritonDistribution, backend_dir: Path) -> Path:
    """Create or refresh ``backend_dir``; returns it. Idempotent and cheap when up to date."""
    python_dir = backend_dir / "python"
    ort_dir = backend_dir / "onnxruntime"
    python_dir.mkdir(parents=True, exist_ok=True)
    ort_dir.mkdir(parents=True, exist_ok=True)
    for name in PYTHON_BACKEND_FILES:
        copy_atomic(dist.python_backend_dir / name, python_dir / name)
    copy_atomic(dist.stub, python_dir / "triton_python_backend_stub")
    (python_dir / "triton_python_backend_stub").chmod(0o755)
    for name in BACKEND_FILES:
        copy_atomic(BACKEND_SOURCES / name, ort_dir / name)
    logger.debug("backend directory ready at %s", backend_dir)
    return backend_dir
