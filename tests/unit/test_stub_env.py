"""The stub's runtime environment: what it must hold, and the errors that say how to fix it."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from modelserve.serve import stub_env
from modelserve.serve.errors import StubEnvironmentError
from modelserve.serve.locate import python_version_tag


def test_requirements_pin_numpy_1_and_this_environments_onnxruntime():
    reqs = stub_env.requirements()
    assert reqs[0] == "numpy==1.26.4"
    dist, version = reqs[1].split("==")
    assert dist in ("onnxruntime", "onnxruntime-gpu") and version == importlib.metadata.version(dist)


def test_a_missing_environment_says_how_to_create_it(tmp_path):
    with pytest.raises(StubEnvironmentError, match="is missing.*make setup"):
        stub_env.locate(tmp_path / "nowhere")


def _fake_env(root: Path, version: str, marker: str | None) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python3").write_text("")
    (root / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}\n")
    if marker is not None:
        (root / stub_env.MARKER).write_text(marker)
    return root


def test_an_environment_for_another_python_is_refused(tmp_path):
    with pytest.raises(StubEnvironmentError, match="runs Python 3.2 but the stub is built for"):
        stub_env.locate(_fake_env(tmp_path / "env", "3.2.1", None))


def test_a_stale_environment_is_refused_with_what_it_has_and_needs(tmp_path):
    root = _fake_env(tmp_path / "env", f"{python_version_tag()}.0", "numpy==1.26.4\nonnxruntime==0.1")
    with pytest.raises(StubEnvironmentError, match=r"holds \['numpy==1.26.4', 'onnxruntime==0.1'\]"):
        stub_env.locate(root)


def test_the_variable_points_the_server_at_another_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv(stub_env.ENV_VAR, str(tmp_path))
    assert stub_env.default_root() == tmp_path
    monkeypatch.delenv(stub_env.ENV_VAR)
    assert stub_env.default_root() == Path(sys.prefix) / stub_env.DIR_NAME


def test_make_setup_created_the_environment_with_numpy_1():
    env = stub_env.locate()
    assert stub_env._numpy_major(env.root) == 1
    assert (env.root / stub_env.MARKER).read_text().splitlines() == stub_env.requirements()
