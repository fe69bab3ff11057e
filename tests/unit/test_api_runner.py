"""Worker processes get the same settings and see the supervisor's state (modelserve/api_runner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from modelserve.cli.common import describe_invalid
from modelserve.ops.api_runner import ApiRunner, StatusWriter, file_status, settings_env
from modelserve.ops.errors import ApiStartError
from modelserve.serve.supervisor import Status
from modelserve.serving.settings import ApiSettings


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
    state = Status("ready", "", 0)
    path = tmp_path / "status.json"
    writer = StatusWriter(path, lambda: state, every_s=0.01)
    writer.start()
    read = file_status(path)
    assert read() == Status("ready", "", 0)
    state = Status("restarting", "tritonserver exited (code -6)", 3)
    import time

    deadline = time.monotonic() + 5
    while read().state != "restarting" and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop()
    assert read() == Status("restarting", "tritonserver exited (code -6)", 3)


def test_no_status_file_reads_as_ready(tmp_path):
    assert file_status(tmp_path / "missing.json")() == Status("ready", "", 0)
    (tmp_path / "bad.json").write_text("{")
    assert file_status(tmp_path / "bad.json")() == Status("ready", "", 0)


def test_zero_workers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--api-workers must be 1 or more"):
        ApiRunner(ApiSettings(), host="127.0.0.1", port=1, workers=0, verbose=False, work_dir=tmp_path)


def test_a_store_that_cannot_open_is_one_error_before_any_worker_starts(tmp_path):
    settings = ApiSettings(monitoring_url=f"sqlite:///{tmp_path}/file/x.sqlite")
    (tmp_path / "file").write_text("a file where the store's folder should be")
    runner = ApiRunner(settings, host="127.0.0.1", port=1, workers=2, verbose=False, work_dir=tmp_path)
    with pytest.raises(ApiStartError, match="monitoring store"):
        runner.run()
    assert not (tmp_path / "api-metrics").exists()  # nothing of the workers' set-up happened


def test_settings_mistakes_read_as_one_line_naming_the_variable():
    with pytest.raises(ValidationError) as bad_url:
        ApiSettings(triton_url="garbage")
    assert describe_invalid(bad_url.value) == (
        "triton_url (MODELSERVE_TRITON_URL): 'garbage' is not host:port"
    )
    with pytest.raises(ValidationError) as two:
        ApiSettings(max_body_bytes=-1, max_records=0)
    assert describe_invalid(two.value) == (
        "max_body_bytes (MODELSERVE_MAX_BODY_BYTES): Input should be greater than 0 (and 1 more)"
    )
    assert ApiSettings(triton_url="a:1,b:2").triton_url == "a:1,b:2"
    assert ApiSettings(triton_url="dns:///triton.ns.svc:8001").triton_url.startswith("dns:///")


def test_an_empty_variable_means_not_set(monkeypatch):
    # docker-compose.gpu.yml passes `${MODELSERVE_MONITORING_POLICY:-}`: "" once read as Path(".").
    monkeypatch.setenv("MODELSERVE_MONITORING_POLICY", "")
    monkeypatch.setenv("MODELSERVE_API_KEY", "")
    settings = ApiSettings()
    assert settings.monitoring_policy is None and settings.api_key is None
