"""One short real benchmark run: the tabular scenario against a real embedded Triton, our API under
uvicorn and the Flask app under gunicorn; then what it wrote. Counts, columns and files are
checked; timings are not (forbidden: these machines are shared)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelserve.benchmarks.measure import Sweep
from modelserve.benchmarks.report import PERF_ANALYZER_COLUMNS
from modelserve.benchmarks.suite import RunOptions, run
from modelserve.cli.app import app

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

REQUESTS = 15
TRIALS = 2


def test_a_short_tabular_run_measures_every_target_and_writes_its_reports(tmp_path: Path) -> None:
    lines: list[str] = []
    options = RunOptions(
        sweep=Sweep(concurrency=(1, 3), requests=REQUESTS, trials=TRIALS, warmup_s=0.2),
        models=("lr",),
        baselines=("flask", "onnxruntime"),
        results=tmp_path,
    )
    document = run(options, out=lines.append)
    rows = document["rows"]
    targets = {r["target"] for r in rows}
    assert targets == {
        "triton grpc lr",
        "triton http lr",
        "api predict lr",
        "onnxruntime in-process lr",
        "flask+gunicorn lr",
    }
    for row in rows:
        assert row["errors"] == {}, row
        assert row["count"] == REQUESTS * TRIALS  # every request answered and counted
        assert len(row["trials"]) == TRIALS
        assert row["p50_ms"] > 0 and row["p99_ms"] >= row["p50_ms"]
    for row in rows:
        if row["target"] in ("triton grpc lr", "triton http lr", "api predict lr"):
            # Triton's own counters saw exactly the measured requests (warm-up excluded).
            assert row["server_split"]["requests"] == REQUESTS * TRIALS
            assert row["server_split"]["compute_infer_us"] > 0
    api = next(r for r in rows if r["target"] == "api predict lr")
    assert set(api["api_split_ms"]) == {"total", "triton", "api"}
    assert any(r["label"] == "API / Triton HTTP, throughput" for r in document["ratios"])

    run_dir = tmp_path / "runs" / document["run_id"]
    with (run_dir / "api-predict-lr.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header[0] == "Concurrency" and tuple(header[1:14]) == PERF_ANALYZER_COLUMNS
    for png in ("latency-throughput.png", "percentiles.png", "time-split.png"):
        assert (run_dir / png).stat().st_size > 5000
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["machine"]["cpu"] and saved["machine"]["date"].startswith("20")
    assert any("api predict lr" in line for line in lines)

    history = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and json.loads(history[0])["run_id"] == document["run_id"]
    compared = CliRunner().invoke(app, ["bench", "compare", "latest", "latest", "--results", str(tmp_path)])
    assert compared.exit_code == 0, compared.output
    assert "within noise" in compared.output or "no band" in compared.output


def test_the_routes_scenario_runs_from_the_installed_command_outside_the_checkout(tmp_path: Path) -> None:
    """From the console script, in a folder of its own: the scenario once imported a test module
    (`tests.tiny_transformers`) that only the checkout has, and judged resnet50's API p50 against
    another model's Triton row."""
    import shutil
    import subprocess
    import sys

    command = shutil.which("modelserve", path=str(Path(sys.executable).parent))
    assert command is not None, "the modelserve console script is not installed beside this Python"
    args = ["--scenario", "routes", "--concurrency", "1", "--requests", "3", "--trials", "1", "--warmup", "0"]
    args += ["--no-plots", "--no-perf-analyzer", "--results", str(tmp_path / "res")]
    done = subprocess.run(
        [command, "bench", *args], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [run_json] = (tmp_path / "res" / "runs").glob("*/run.json")
    found = json.loads(run_json.read_text())["ratios"]
    p50 = [r for r in found if r["label"].endswith("(preprocessed tensor), p50")]
    assert [(r["numerator"], r["denominator"]) for r in p50] == [
        ("api classify resnet50", "triton grpc resnet50")
    ]
    assert not (tmp_path / "benchmarks").exists()  # nothing written where it was not asked
