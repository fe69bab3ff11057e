"""``pip install modelserve`` is the typed client alone: a fresh venv gets numpy and tritonclient,
no training or serving stack; the console script says which extra the command needs."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {
    "scikit-learn",
    "pandas",
    "opencv-python-headless",
    "opencv-python",
    "torch",
    "tensorflow-cpu",
    "scipy",
}


def test_the_client_tier_installs_no_training_or_serving_stack(tmp_path: Path) -> None:
    env_dir = tmp_path / "client-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", str(ROOT)], check=True, timeout=900)
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert installed & HEAVY == set()
    assert {"modelserve", "numpy", "tritonclient"} <= installed
    code = "from modelserve.client import TritonClient, AsyncTritonClient; print(TritonClient.__name__)"
    assert subprocess.run(
        [python, "-c", code], capture_output=True, text=True, cwd=tmp_path
    ).stdout.strip() == ("TritonClient")
    command = subprocess.run([str(env_dir / "bin" / "modelserve"), "--help"], capture_output=True, text=True)
    assert command.returncode != 0 and "modelserve[cli]" in command.stderr
