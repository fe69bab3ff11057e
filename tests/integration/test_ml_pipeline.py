"""Every `modelserve` line of .github/workflows/ml-pipeline.yml, run here in order (variables
substituted) on the example table and a real embedded Triton: validate, train+export, gate,
publish, promote. The gate must also stop a version that is not good enough."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelserve.cli.app import app
from modelserve.client import TritonClient
from modelserve.export.tabular_data import example_table
from modelserve.ops.lifecycle import ready_versions
from modelserve.ops.stack import local_triton
from modelserve.repository import ModelRepository

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ml-pipeline.yml"


def _commands() -> dict[str, str]:
    """Step name -> its `modelserve ...` command line."""
    doc = yaml.safe_load(WORKFLOW.read_text())
    out = {}
    for job in doc["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                if line.strip().startswith(".venv/bin/modelserve"):
                    out[step["name"]] = line.strip()
    return out


def _run(line: str, env: dict[str, str]) -> str:
    text = re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], line)
    args = shlex.split(text)[1:]  # drop .venv/bin/modelserve
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{text}\n{result.output}"
    return result.output


def test_the_workflow_steps_train_gate_and_promote(tmp_path: Path) -> None:
    commands = _commands()
    assert [k.split(" ")[0] for k in commands] == ["Validate", "Train,", "Gate", "Promote"]
    data = tmp_path / "data.csv"
    example_table(600).to_csv(data, index=False)
    repo = tmp_path / "repo"
    env = {
        "MODEL": "churn",
        "DATA": str(data),
        "TARGET": "segment",
        "MODELSERVE_REPOSITORY": str(repo),
        "MIN_F1": "0.5",
    }
    os.environ["MODELSERVE_REPOSITORY"] = str(repo)  # the workflow sets it for every step
    try:
        for step in ("Validate", "Train,", "Gate"):
            line = next(v for k, v in commands.items() if k.startswith(step))
            out = _run(line, env)
        assert "churn v1: weighted F1" in out and "passes" in out

        # A gate the version cannot pass stops the pipeline with the reason.
        gate = next(v for k, v in commands.items() if k.startswith("Gate"))
        failed = CliRunner().invoke(
            app,
            shlex.split(re.sub(r"\$\{?(\w+)\}?", lambda m: {**env, "MIN_F1": "0.999"}[m.group(1)], gate))[1:],
        )
        assert failed.exit_code == 1 and "fails the gate: weighted F1" in failed.output

        # Deploy: a served repository with v1 loaded; the pipeline's next version is published
        # beside it and promoted with the workflow's command.
        served = tmp_path / "served"
        shutil.copytree(repo, served)
        with (
            local_triton(served, tmp_path / "w", lock_control_plane=False) as server,
            TritonClient(server.endpoints.grpc_url) as client,
        ):
            assert ready_versions(client, "churn") == [1]
            _run(next(v for k, v in commands.items() if k.startswith("Train,")), env)  # v2
            shutil.copytree(repo / "churn" / "2", served / "churn" / "2")
            promote = next(v for k, v in commands.items() if k.startswith("Promote"))
            out = _run(
                promote,
                {
                    **env,
                    "VERSION": "2",
                    "SERVED_REPOSITORY": str(served),
                    "TRITON_URL": server.endpoints.grpc_url,
                },
            )
            assert "promote churn v2: done; loaded now: v2" in out
            assert (
                ready_versions(client, "churn") == [2]
                and ModelRepository(served).lifecycle("churn").served == 2
            )
    finally:
        os.environ.pop("MODELSERVE_REPOSITORY", None)


def test_validation_names_what_is_wrong_with_the_data(tmp_path: Path) -> None:
    frame = example_table(30)
    frame.to_csv(tmp_path / "small.csv", index=False)
    result = CliRunner().invoke(app, ["pipeline", "validate", str(tmp_path / "small.csv"), "-t", "segment"])
    assert result.exit_code == 1 and "rows; at least 50 are needed" in result.output  # after cleaning
    frame = example_table(200)
    frame["segment"] = "only"
    frame.to_csv(tmp_path / "one.csv", index=False)
    result = CliRunner().invoke(app, ["pipeline", "validate", str(tmp_path / "one.csv"), "-t", "segment"])
    assert result.exit_code == 1 and "has 1 class" in result.output
