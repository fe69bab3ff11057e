"""The benchmark suite's arithmetic on synthetic timings: percentiles, rates, spreads, the server
split, ratios, perf_analyzer's CSV columns. No server, no clock assertions."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest

from modelserve.benchmarks import perf_analyzer
from modelserve.benchmarks.loadgen import LoadResult, LoadSpec, arrival_offsets
from modelserve.benchmarks.ratios import format_ratios, ratios
from modelserve.benchmarks.report import EXTRA_COLUMNS, PERF_ANALYZER_COLUMNS, Row, csv_text, table
from modelserve.benchmarks.stats import spread, summarise
from modelserve.benchmarks.triton_split import difference
from modelserve.client.types import Duration, ModelStatistics


def test_percentiles_rates_and_errors_of_known_latencies() -> None:
    latencies = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    s = summarise(latencies, errors=["timeout", "http_500", "timeout"], seconds=4.0, items_per_request=8)
    assert s.count == 100
    assert s.errors == {"timeout": 2, "http_500": 1}
    assert s.error_count == 3
    assert s.p50_ms == pytest.approx(50.5)
    assert s.p90_ms == pytest.approx(90.1)
    assert s.p95_ms == pytest.approx(95.05)
    assert s.p99_ms == pytest.approx(99.01)
    assert s.max_ms == pytest.approx(100.0)
    assert s.avg_ms == pytest.approx(50.5)
    assert s.throughput == pytest.approx(25.0)  # successes per second; errors don't count
    assert s.items_per_s == pytest.approx(200.0)


def test_empty_window_keeps_its_errors() -> None:
    s = summarise([], errors={"connection": 5}, seconds=1.0)
    assert s.count == 0 and s.throughput == 0 and s.errors == {"connection": 5}


def test_spread_is_range_over_median() -> None:
    assert spread([100.0, 110.0, 90.0]) == pytest.approx(0.2)
    assert spread([5.0]) == 0.0


def test_constant_arrivals_are_evenly_spaced_and_fill_the_window() -> None:
    spec = LoadSpec(rate=200, arrival="constant", duration_s=2)
    offsets = arrival_offsets(spec, 2.0, np.random.default_rng(0))
    assert len(offsets) == 400
    assert np.allclose(np.diff(offsets), 1 / 200)


def test_poisson_arrivals_have_the_rate_as_mean_and_exponential_gaps() -> None:
    spec = LoadSpec(rate=1000, arrival="poisson", requests=20_000)
    offsets = arrival_offsets(spec, None, np.random.default_rng(42))
    gaps = np.diff(offsets)
    assert len(offsets) == 20_000
    assert gaps.mean() == pytest.approx(1e-3, rel=0.05)
    # Exponential: standard deviation equals the mean (constant spacing would give 0).
    assert gaps.std() == pytest.approx(1e-3, rel=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"concurrency": 0},
        {"rate": 0.0},
        {"duration_s": 0.0},
        {"requests": 0},
        {"trials": 0},
        {"arrival": "burst"},
    ],
)
def test_load_spec_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LoadSpec(**kwargs)  # type: ignore[arg-type]


def _stats(count: int, queue_ns: int, infer_ns: int, executions: int) -> ModelStatistics:
    d = Duration
    return ModelStatistics(
        name="m",
        version="1",
        inference_count=count,
        execution_count=executions,
        success=d(count=count, ns=count * 2_000_000),
        fail=d(count=0, ns=0),
        queue=d(count=count, ns=queue_ns),
        compute_input=d(count=count, ns=count * 10_000),
        compute_infer=d(count=count, ns=infer_ns),
        compute_output=d(count=count, ns=count * 5_000),
        batch_sizes={},
    )


def test_server_split_is_the_difference_of_cumulative_counters() -> None:
    before = _stats(100, queue_ns=10_000_000, infer_ns=50_000_000, executions=100)
    after = _stats(300, queue_ns=50_000_000, infer_ns=250_000_000, executions=150)
    split = difference(before, after)
    assert split.requests == 200 and split.executions == 50
    assert split.mean_batch == pytest.approx(4.0)
    assert split.queue_us == pytest.approx(200.0)  # 40 ms over 200 requests
    assert split.compute_infer_us == pytest.approx(1000.0)
    assert split.compute_input_us == pytest.approx(10.0)
    assert split.compute_output_us == pytest.approx(5.0)


def _result(target: str, throughput: float, p50: float, *, concurrency: int = 4) -> LoadResult:
    n = int(throughput * 2)
    latencies = [p50 / 1e3] * n
    s = summarise(latencies, seconds=2.0)
    return LoadResult(target=target, spec=LoadSpec(concurrency=concurrency), summary=s, trials=[s, s])


def test_csv_has_perf_analyzers_columns_in_microseconds_sorted_by_throughput() -> None:
    before = _stats(0, 0, 0, 0)
    after = _stats(100, queue_ns=30_000_000, infer_ns=100_000_000, executions=100)
    rows = [
        Row(result=_result("t", 500, 2.0, concurrency=8), server=difference(before, after)),
        Row(result=_result("t", 100, 4.0, concurrency=1)),
    ]
    parsed = list(csv.reader(io.StringIO(csv_text(rows))))
    assert tuple(parsed[0]) == ("Concurrency", *PERF_ANALYZER_COLUMNS, *EXTRA_COLUMNS)
    first, second = (dict(zip(parsed[0], r, strict=True)) for r in parsed[1:])
    assert first["Concurrency"] == "1" and second["Concurrency"] == "8"  # increasing throughput
    assert float(second["Inferences/Second"]) == pytest.approx(500.0)
    assert second["p50 latency"] == "2000" and second["p99 latency"] == "2000"
    assert second["Server Queue"] == "300" and second["Server Compute Infer"] == "1000"
    # Network+Server Send/Recv: what the client saw minus Triton's queue and compute.
    assert int(second["Network+Server Send/Recv"]) == 2000 - (300 + 10 + 1000 + 5)
    assert first["Server Queue"] == "0"  # no server split for that target: zeros, not guesses


def test_open_loop_csv_is_keyed_by_request_rate() -> None:
    s = summarise([0.001], seconds=1.0)
    row = Row(result=LoadResult(target="t", spec=LoadSpec(rate=50), summary=s, trials=[s]))
    assert csv_text([row]).startswith("Request Rate,Inferences/Second,")
    assert "50/s" in table([row])


def _row_dict(target: str, throughput: float, p99: float, group: str = "g") -> dict[str, object]:
    return {
        "group": group,
        "target": target,
        "mode": "closed",
        "concurrency": 16,
        "rate": None,
        "count": 100,
        "throughput": throughput,
        "p50_ms": p99 / 2,
        "p99_ms": p99,
    }


def test_ratios_pair_targets_of_one_load_point_and_judge_goals() -> None:
    rows = [
        _row_dict("triton http rf", 10_000, 2.0),
        _row_dict("api predict rf", 2_000, 8.0),
        _row_dict("flask+gunicorn rf", 50, 400.0),
    ]
    found = {r.label: r for r in ratios(rows)}
    api = found["API / Triton HTTP, throughput"]
    assert api.value == pytest.approx(0.2) and api.met is False
    assert found["API / Triton HTTP, p99"].value == pytest.approx(4.0)
    assert found["API / Flask in-process, throughput"].value == pytest.approx(40.0)
    assert found["API / Flask in-process, throughput"].met is None  # no goal: reported, not judged
    assert "MISSED" in format_ratios(list(found.values()))
    assert not any(r.denominator.startswith("mlserver") for r in found.values())


def test_ratios_pair_the_rows_of_one_model() -> None:
    """The routes run judged API resnet50's p50 against Triton's *segments* row (48.5, MISSED);
    against Triton's resnet50 row it is 0.80 (met)."""
    rows = [
        {**_row_dict("api classify resnet50", 0, 125.82), "p50_ms": 62.91},
        {**_row_dict("triton grpc segments", 0, 2.60), "p50_ms": 1.30},
        {**_row_dict("triton grpc resnet50", 0, 157.6), "p50_ms": 78.80},
    ]
    [found] = [r for r in ratios(rows) if r.label.endswith("p50")]
    assert found.denominator == "triton grpc resnet50" and found.value == pytest.approx(62.91 / 78.80)
    assert found.met is True and "resnet50" in format_ratios([found])


def test_ratios_skip_open_loop_throughput() -> None:
    rows = [
        {**_row_dict("triton http rf", 100, 2.0), "mode": "open", "rate": 100.0, "concurrency": None},
        {**_row_dict("api predict rf", 100, 8.0), "mode": "open", "rate": 100.0, "concurrency": None},
    ]
    labels = {r.label for r in ratios(rows)}
    # At a fixed request rate both serve the rate: the throughput ratio says nothing; p99 does.
    assert labels == {"API / Triton HTTP, p99"}


def test_perf_analyzer_csv_parses_to_numbers() -> None:
    text = (
        "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
        "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
        "p50 latency,p90 latency,p95 latency,p99 latency\n"
        "1,69.2,225,2148,64,206,11781,19,0,13891,18795,19753,21018\n"
    )
    (row,) = perf_analyzer.parse_csv(text)
    assert row["Concurrency"] == 1 and row["Inferences/Second"] == pytest.approx(69.2)
    assert row["p99 latency"] == 21018
    assert "glibc" in perf_analyzer.unavailable_reason() or perf_analyzer.find() is not None


def test_the_cli_knows_the_suite_scenarios_and_results_folder_without_importing_it():
    from modelserve.benchmarks import suite
    from modelserve.cli import bench as cli

    assert cli.SCENARIO_NAMES == suite.SCENARIOS and cli.DEFAULT_RESULTS == suite.DEFAULT_RESULTS
    assert cli.RECORDED == suite.RECORDED


def test_the_gpu_check_never_signals_processes_it_did_not_start() -> None:
    """Stopping Triton by process name stopped every Triton on a GPU node, a user's own included."""
    script = (Path(__file__).parents[2] / "benchmarks" / "gpu_check.sh").read_text()
    commands = [line.split("#")[0] for line in script.splitlines()]
    by_name_or_pid = re.compile(r"\bp?kill(all)?\s")
    assert not [c for c in commands if by_name_or_pid.search(c)]


def _history(path: Path, *runs: tuple[str, str]) -> None:
    from modelserve.benchmarks import history

    for run_id, cpu in runs:
        machine = {"cpu": cpu, "cores": 2, "gpu": None, "commit": "abc1234"}
        history.append(path, {"run_id": run_id, "machine": machine, "rows": []})


def test_the_history_reads_oldest_first_whatever_the_line_order(tmp_path: Path) -> None:
    from modelserve.benchmarks import history

    path = tmp_path / "history.jsonl"
    _history(path, ("20261201T000000Z-tabular", "AMD EPYC"), ("20261130T000000Z-vision", "AMD EPYC"))
    assert [r["run_id"] for r in history.read(path)] == [
        "20261130T000000Z-vision",
        "20261201T000000Z-tabular",
    ]


def test_compare_names_a_and_b_and_refuses_runs_from_other_machines(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modelserve.cli.app import app

    path = tmp_path / "history.jsonl"
    _history(path, ("20261130T000000Z-tabular", "AMD EPYC 7B13"), ("20261207T000000Z-tabular", "Intel Xeon"))
    got = CliRunner().invoke(app, ["bench", "compare", "latest~1", "latest", "--results", str(tmp_path)])
    assert got.exit_code == 1
    assert "A: 20261130T000000Z-tabular (commit abc1234, AMD EPYC 7B13, 2 cores)" in got.output
    assert "B: 20261207T000000Z-tabular" in got.output
    assert "different machines (cpu: 'AMD EPYC 7B13' vs 'Intel Xeon')" in got.output
    assert "--across-machines" in got.output


def test_a_run_writes_outside_the_tracked_tree_unless_recorded() -> None:
    from modelserve.cli import bench as cli

    assert Path(".modelserve/bench") == cli.DEFAULT_RESULTS  # ignored by git: `git status` stays clean
    assert Path("benchmarks/results") == cli.RECORDED
