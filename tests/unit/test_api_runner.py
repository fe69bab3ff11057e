"""Worker processes get the same settings and see the supervisor's state (modelserve/api_runner)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import ApiSettings
from modelserve.api_runner import ApiRunner, StatusWriter, file_status, settings_env


def test_a_worker_builds_the_settings_it_was_given(monkeypatch):
    given = ApiSettings(
        triton_url="a:8001,b:8001",
        api_key="k",
        api_bind="0.0.0.0",
        cors_origins=("https://x.example",),
        monitoring=False,
        monitoring_policy=Path("/etc/policy.yaml"),
        max_records=7,
    )
    for key, value in settings_env(given).items():
        monkeypatch.setenv(key, value)
    assert ApiSettings() == given


def test_the_status_file_follows_the_supervisor(tmp_path):
    state = ["ready", ""]
    path = tmp_path / "status.json"
    writer = StatusWriter(path, lambda: (state[0], state[1]), every_s=0.01)
    writer.start()
    read = file_status(path)
    assert read() == ("ready", "")
    state[:] = ["failed", "tritonserver exited 5 times"]
    import time

    deadline = time.monotonic() + 5
    while read()[0] != "failed" and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop()
    assert read() == ("failed", "tritonserver exited 5 times")


def test_no_status_file_reads_as_ready(tmp_path):
    assert file_status(tmp_path / "missing.json")() == ("ready", "")
    (tmp_path / "bad.json").write_text("{")
    assert file_status(tmp_path / "bad.json")() == ("ready", "")


def test_zero_workers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--api-workers must be 1 or more"):
        ApiRunner(ApiSettings(), host="127.0.0.1", port=1, workers=0, verbose=False, work_dir=tmp_path)
