"""``modelserve tune`` end to end against the real embedded Triton: a two-point sweep of a tiny
exported classifier at concurrency 1. Structure, the baseline, the budget logic, the restored config
and ``--apply`` are checked; timings are not (forbidden: these machines are shared)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelserve.benchmarks.tune_space import Measured, TunePoint, apply_point, point_of, select_best
from modelserve.cli.app import app
from modelserve.client import TritonClient
from modelserve.contracts.reference import REFERENCE_NAME
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families.tabular.demo import DemoModel
from modelserve.families.tabular.exporter import export_classifier
from modelserve.ops.lifecycle import apply_config
from modelserve.repository.config import read_config
from modelserve.serve.server import EmbeddedTriton

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NAME = "tune_iris"


@pytest.fixture(scope="module")
def tuned(repository: tuple[Path, list[DemoModel]], server: EmbeddedTriton) -> tuple[Path, str]:
    """A tiny classifier, exported with its reference sample into the server's repository, loaded."""
    root, _ = repository
    data = load_iris()
    spec = FeatureSpec(
        fields=tuple(FieldSpec(name=str(f), kind="numeric") for f in data.feature_names),
        target="species",
        classes=tuple(str(c) for c in data.target_names),
    )
    x = data.data.astype(np.float32)
    model = LogisticRegression(max_iter=500).fit(x, data.target)
    export_classifier(root, NAME, model, x[:20], spec=spec, source="test", reference=x)
    url = server.endpoints.grpc_url
    with TritonClient(url) as client:
        client.load(NAME)
    return root, url


def _tune(url: str, root: Path, tmp: Path, *extra: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    out = tmp / "tune.json"
    result = CliRunner().invoke(
        app,
        [
            "tune", NAME, "--url", url, "--repository", str(root), "--concurrency", "1",
            "--instances", "1,2", "--duration", "1", "--warmup", "0.2", "--budget-p99-ms", "1000",
            "--time-budget-s", "120", "--results", str(tmp / "results"), "--json", str(out), *extra,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_a_two_point_sweep_reports_measures_records_and_restores(
    tuned: tuple[Path, str], tmp_path: Path
) -> None:
    root, url = tuned
    with TritonClient(url) as client:
        before = client.config(NAME)
    document, output = _tune(url, root, tmp_path)
    tune = document["tune"]
    points, again = tune["points"][:2], tune["points"][2]
    assert [p["index"] for p in points] == [0, 1] and tune["baseline"] == 0
    default = points[0]
    assert default["diff"] == [] and default["config"]["instances"] == 1  # the exported config
    assert points[1]["config"]["instances"] == 2
    assert points[1]["diff"] == ["instance_group[0].count: 1 -> 2"]
    for p in points:
        assert p["status"] == "measured", p
        m = p["measured"]["1"]
        assert m["errors"] == 0 and {"throughput", "p50_ms", "p99_ms"} <= set(m)  # values: no assertions
    # The default once more at the end (the run's A/A pair), never a candidate.
    assert again["again"] is True and again["config"] == default["config"] and again["diff"] == []
    assert again["status"] in ("measured", "skipped")
    assert set(tune["aa"]) == ({"1"} if again["status"] == "measured" else set())
    # The budget logic, recomputed from the recorded numbers.
    measured = [[Measured(concurrency=int(c), **v) for c, v in p["measured"].items()] for p in points]
    assert tune["best"] == select_best(measured, [1], 1000.0)
    assert tune["best_diff"] == points[tune["best"]]["diff"]
    # The table: a header, one line per point, the default marked, the best starred.
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("#  config"))
    rows = lines[header + 2 : header + 5]
    assert rows[0].strip().startswith("0") and rows[0].endswith("(default)")
    assert rows[2].strip().startswith("2") and rows[2].endswith("(default again)")
    assert rows[tune["best"]].lstrip()[1] == "*"
    assert f"restored {NAME}'s original config" in output
    # Recorded like every bench run: the run folder, the history, the plots.
    run_dir = tmp_path / "results" / "runs" / document["run_id"]
    assert {"run.json", "tune.json", "tune.png", "latency-throughput.png"} <= {
        p.name for p in run_dir.iterdir()
    }
    history = [json.loads(line) for line in (tmp_path / "results" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["run_id"] == document["run_id"] and history[-1]["scenario"] == "tune"
    assert len(history[-1]["rows"]) == sum(1 for p in tune["points"] if p["status"] == "measured")
    # The server serves the config it served before the sweep.
    with TritonClient(url) as client:
        after = client.config(NAME)
        assert point_of(after) == point_of(before)
        assert client.is_model_ready(NAME)


def test_apply_writes_a_config_that_loads(tuned: tuple[Path, str], tmp_path: Path) -> None:
    root, url = tuned
    path = root / NAME / "config.pbtxt"
    original = path.read_text()
    try:
        document, output = _tune(url, root, tmp_path, "--apply")
        best = document["tune"]["best"]
        if best:  # the sweep's choice was written
            assert document["tune"]["applied"] is True and "applied #1" in output
            assert point_of(read_config(path)).instances == 2
        else:  # the default won: nothing to write
            assert document["tune"]["applied"] is False and path.read_text() == original
        # Whatever the numbers chose, the apply path itself: load, verify, write.
        wanted = TunePoint(instances=2, max_batch=128, queue_delay_us=500)
        with TritonClient(url) as client:
            outcome = apply_config(client, root, NAME, apply_point(read_config(path), wanted))
            assert outcome.loaded == [1]
            assert point_of(read_config(path)) == wanted
            client.unload(NAME)
            client.load(NAME)  # from the files alone
            assert client.is_model_ready(NAME)
            assert point_of(client.config(NAME)).instances == 2
            assert client.config(NAME).dynamic_batching.max_queue_delay_microseconds == 500
    finally:
        path.write_text(original)
        with TritonClient(url) as client:
            client.load(NAME)
    assert (root / NAME / "1" / REFERENCE_NAME).is_file()  # the tune drew its input from here


def test_tune_of_a_model_the_server_does_not_serve_fails_in_one_line(server: EmbeddedTriton) -> None:
    result = CliRunner().invoke(
        app, ["tune", "no_such_model", "--url", server.endpoints.grpc_url, "--concurrency", "1"]
    )
    assert result.exit_code == 1
    url = server.endpoints.grpc_url
    assert result.output.strip().splitlines() == [
        f"error: no_such_model is not loaded on {url}; load it first (modelserve models load)"
    ]
