"""Everything importable lives under ``modelserve.*``: the folders the project was asked for stay at
the top of the checkout, but an installed modelserve puts no generic name (``api``, ``client``,
``tests``...) into a user's environment, where another package may own it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("api", "client", "serve", "export", "monitor", "contracts", "benchmarks")


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Outside the checkout, as a user's script runs: the repository is not on sys.path there.
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_generic_top_level_names_do_not_import_outside_the_checkout(name: str, tmp_path: Path) -> None:
    result = _python(f"import {name}", tmp_path)
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, result.stderr


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_package_imports_under_the_namespace(name: str, tmp_path: Path) -> None:
    result = _python(f"import modelserve.{name} as m; print(m.__file__)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve().is_relative_to(ROOT / name)


def test_our_test_suite_is_not_importable_outside_the_checkout(tmp_path: Path) -> None:
    """``tests`` itself may resolve: tf2onnx (an export dependency) ships a stray top-level ``tests``
    namespace in site-packages. What must not resolve is ours."""
    result = _python(
        "import importlib.util, sys\n"
        "spec = importlib.util.find_spec('tests')\n"
        "paths = list(spec.submodule_search_locations or []) if spec else []\n"
        "print('\\n'.join(paths))\n"
        "import tests.helpers\n",
        tmp_path,
    )
    assert str(ROOT / "tests") not in result.stdout.splitlines()
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, result.stderr
