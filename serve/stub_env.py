"""The Python environment the Python-backend stub runs in: numpy 1.x beside the same ONNX Runtime.

Why: the stub in the nvidia-pytriton wheel (Triton 2.51) was compiled against numpy 1.x. Under
numpy 2 its ``as_numpy()`` corrupts BYTES inputs and ``Tensor(name, ndarray)`` returns empty
outputs, which breaks string tensors and users' own ``backend: "python"`` models. The stub takes its
interpreter from the first ``python3`` on ``PATH``, so the server puts this environment's ``bin/``
first; the main environment (API, exporters) stays on numpy 2.

The environment lives in ``<venv>/stub-runtime`` and is created by ``make setup``
(``modelserve stub-env create``). It holds numpy 1.26 and the ONNX Runtime distribution and
version of the main environment; a ``.pth`` file appends the main environment's site-packages
after its own, so users' models still import what the main environment has, while numpy and
onnxruntime resolve to the stub's own.

``MODELSERVE_STUB_ENV`` points the server at another Python prefix (any folder with
``bin/python3``), e.g. a machine's own Python where there is no package index to create one.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

from modelserve.serve.errors import StubEnvironmentError
from modelserve.serve.locate import python_version_tag

logger = logging.getLogger(__name__)

ENV_VAR = "MODELSERVE_STUB_ENV"
DIR_NAME = "stub-runtime"
STUB_NUMPY = "numpy==1.26.4"  # the last numpy 1.x; the stub's C++ was built against 1.x
MARKER = ".modelserve-requirements"
FALLTHROUGH_PTH = "modelserve-main-env.pth"


@dataclass(frozen=True)
class StubEnvironment:
    """A Python prefix whose ``bin/python3`` the stub runs with."""

    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python3"


def default_root() -> Path:
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else Path(sys.prefix) / DIR_NAME


def requirements() -> list[str]:
    """numpy 1.26, and the ONNX Runtime build (GPU or CPU) and version this environment has."""
    for dist in ("onnxruntime-gpu", "onnxruntime"):
        try:
            return [STUB_NUMPY, f"{dist}=={importlib.metadata.version(dist)}"]
        except importlib.metadata.PackageNotFoundError:
            continue
    raise StubEnvironmentError("onnxruntime is not installed in this environment; run `make setup`")


def _site_packages(root: Path) -> Path:
    return root / "lib" / f"python{python_version_tag()}" / "site-packages"


def _numpy_major(root: Path) -> int | None:
    found = sorted(_site_packages(root).glob("numpy-*.dist-info"))
    if not found:
        return None
    version = found[-1].name.removeprefix("numpy-").split(".")[0]
    return int(version) if version.isdigit() else None


def _env_version(root: Path) -> str | None:
    cfg = root / "pyvenv.cfg"
    if not cfg.is_file():
        return None
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


def create(root: Path | None = None) -> StubEnvironment:
    """Create or update the environment; cheap when it already has the requirements."""
    env = StubEnvironment(root or default_root())
    wanted = "\n".join(requirements())
    marker = env.root / MARKER
    if env.python.exists() and marker.is_file() and marker.read_text() == wanted:
        logger.info("stub environment %s is up to date", env.root)
        return env
    logger.info("creating the stub environment %s (%s)", env.root, wanted.replace("\n", ", "))
    venv.EnvBuilder(with_pip=True, clear=False).create(env.root)
    pip = [str(env.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        subprocess.run([*pip, *wanted.splitlines()], check=True)
    except subprocess.CalledProcessError as exc:
        raise StubEnvironmentError(f"installing {wanted.splitlines()} into {env.root} failed") from exc
    main_paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    site = _site_packages(env.root)
    (site / FALLTHROUGH_PTH).write_text("\n".join(main_paths) + "\n")
    # onnxruntime-gpu's preload_dlls() looks for the CUDA/cuDNN wheels (nvidia/...) beside itself
    # only, not on sys.path: show it the main environment's (torch brings them there).
    nvidia = Path(sysconfig.get_paths()["purelib"]) / "nvidia"
    if nvidia.is_dir() and not (site / "nvidia").exists():
        (site / "nvidia").symlink_to(nvidia, target_is_directory=True)
    marker.write_text(wanted)
    return env


def locate(root: Path | None = None) -> StubEnvironment:
    """The environment the stub will run in, or a typed error saying how to create it."""
    env = StubEnvironment(root or default_root())
    if not env.python.exists():
        raise StubEnvironmentError(
            f"the Python-backend stub's environment {env.root} is missing (no bin/python3); "
            "run `make setup` or `modelserve stub-env create`"
        )
    version = _env_version(env.root)
    if version is not None and version != python_version_tag():
        raise StubEnvironmentError(
            f"{env.root} runs Python {version} but the stub is built for {python_version_tag()}; "
            f"remove it and run `make setup`"
        )
    marker = env.root / MARKER
    if marker.is_file() and marker.read_text() != "\n".join(requirements()):
        raise StubEnvironmentError(
            f"{env.root} holds {marker.read_text().splitlines()} but this environment needs "
            f"{requirements()}; run `make setup`"
        )
    if (_numpy_major(env.root) or 1) >= 2:
        logger.warning(
            "the stub runs under numpy 2 from %s: BYTES tensors and backend 'python' models will break",
            env.root,
        )
    return env
