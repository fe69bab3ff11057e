"""The load generator against synthetic targets, the raw HTTP client against a tiny local server,
the history and compare, the plots and the CLI's errors. No timing assertions: counts and kinds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelserve.benchmarks import history
from modelserve.benchmarks.loadgen import OK, LoadSpec, Outcome, run_load
from modelserve.benchmarks.rawhttp import Connection, build_request, server_timing
from modelserve.benchmarks.targets import HttpTarget, v2_json_body
from modelserve.cli.app import app


class Scripted:
    """Every 5th request answers an HTTP error, every 7th raises; the rest succeed."""

    name = "scripted"
    items_per_request = 2

    def __init__(self, delay_s: float = 0.0005) -> None:
        self.sent = 0
        self.delay_s = delay_s
        self.opened = self.closed = False

    async def open(self) -> None:
        self.opened = True

    async def send(self, slot: int) -> Outcome:
        self.sent += 1
        n = self.sent
        await asyncio.sleep(self.delay_s)
        if n % 7 == 0:
            raise ConnectionResetError("peer went away")
        if n % 5 == 0:
            return Outcome(error="http_503")
        return Outcome(split_ms={"api": 0.5, "triton": 1.5})

    async def close(self) -> None:
        self.closed = True


def test_closed_loop_counts_every_request_as_success_or_named_error() -> None:
    target = Scripted()
    spec = LoadSpec(concurrency=4, requests=70, trials=2, warmup_s=0)
    result = asyncio.run(run_load(target, spec))
    assert target.opened and target.closed
    assert target.sent == 140
    total = result.summary.count + result.summary.error_count
    assert total == 140  # nothing dropped
    assert set(result.summary.errors) == {"http_503", "connection"}
    assert result.summary.errors["connection"] == 140 // 7
    assert [t.count + t.error_count for t in result.trials] == [70, 70]
    assert result.split_ms == {"api": pytest.approx(0.5), "triton": pytest.approx(1.5)}
    assert result.summary.items_per_request == 2


def test_warm_up_requests_stay_out_of_the_results() -> None:
    target = Scripted(delay_s=0.001)
    marks: list[int] = []
    spec = LoadSpec(concurrency=2, requests=10, warmup_s=0.05)
    result = asyncio.run(
        run_load(
            target,
            spec,
            on_start=lambda: marks.append(target.sent),
            on_stop=lambda: marks.append(target.sent),
        )
    )
    warmup_sent, end_sent = marks
    assert warmup_sent > 0
    assert end_sent - warmup_sent == 10
    assert result.summary.count + result.summary.error_count == 10


class Slow:
    name = "slow"
    items_per_request = 1

    async def open(self) -> None: ...

    async def send(self, slot: int) -> Outcome:
        await asyncio.sleep(0.2)
        return OK

    async def close(self) -> None: ...


def test_open_loop_counts_requests_it_could_not_start_as_backlog() -> None:
    spec = LoadSpec(rate=500, arrival="constant", requests=50, max_inflight=5, warmup_s=0)
    result = asyncio.run(run_load(Slow(), spec))
    assert result.summary.count + result.summary.error_count == 50
    assert result.summary.errors.get("backlog", 0) >= 40
    assert result.summary.count >= 5


def test_a_request_over_its_timeout_is_a_timeout_error() -> None:
    spec = LoadSpec(concurrency=2, requests=4, timeout_s=0.01, warmup_s=0)
    result = asyncio.run(run_load(Slow(), spec))
    assert result.summary.errors == {"timeout": 4} and result.summary.count == 0


def test_request_bytes_and_server_timing_parsing() -> None:
    raw = build_request("http://h:1/v1/x?k=5", "POST", b"{}", "application/json")
    assert raw.startswith(b"POST /v1/x?k=5 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\n")
    assert raw.endswith(b"\r\n\r\n{}")
    assert server_timing("total;dur=3.5, triton;dur=2, api;dur=1.5") == {
        "total": 3.5,
        "triton": 2.0,
        "api": 1.5,
    }
    assert server_timing("cache;desc=hit, x;dur=bad") == {}
    with pytest.raises(ValueError, match="only plain http"):
        Connection("https://example.org/")


def test_v2_json_body_names_type_and_shape() -> None:
    import numpy as np

    body = json.loads(v2_json_body({"features": np.ones((2, 3), np.float32)}))
    assert body == {"inputs": [{"name": "features", "shape": [2, 3], "datatype": "FP32", "data": [1.0] * 6}]}
    with pytest.raises(ValueError, match="no v2 JSON datatype"):
        v2_json_body({"x": np.ones(2, np.complex64)})


async def _serve(responses: list[bytes]) -> tuple[asyncio.Server, int]:
    """Answers each request (read up to its blank line + body) with the next canned response."""
    queue = list(responses)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while queue:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            answer = queue.pop(0)
            writer.write(answer)
            await writer.drain()
            if b"Connection: close" in answer:
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_raw_http_target_reads_length_chunked_and_errors() -> None:
    async def go() -> list[Outcome]:
        server, port = await _serve(
            [
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer-Timing: triton;dur=1.25\r\n\r\nok",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                b"HTTP/1.1 422 Unprocessable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ]
        )
        target = HttpTarget("t", f"http://127.0.0.1:{port}/x", b"{}")
        await target.open()
        outcomes = [await target.send(0) for _ in range(3)]
        await target.close()
        server.close()
        await server.wait_closed()
        return outcomes

    first, second, third = asyncio.run(go())
    assert first.error is None and first.split_ms == {"triton": 1.25}
    assert second == OK
    assert third.error == "http_422"


def _document(run_id: str, throughput: float, spread_: float) -> dict[str, object]:
    row = {
        "group": "g",
        "target": "api predict lr",
        "mode": "closed",
        "concurrency": 4,
        "rate": None,
        "items_per_request": 1,
        "count": 100,
        "errors": {},
        "throughput": throughput,
        "items_per_s": throughput,
        "avg_ms": 2.0,
        "p50_ms": 2.0,
        "p90_ms": 3.0,
        "p95_ms": 3.5,
        "p99_ms": 4.0,
        "max_ms": 5.0,
        "throughput_spread": spread_,
        "p50_spread": spread_,
        "p99_spread": spread_,
    }
    return {
        "run_id": run_id,
        "scenario": "tabular",
        "machine": {"date": "2026-11-28", "cpu": "x"},
        "rows": [row],
    }


def test_history_and_compare_judge_changes_against_the_measured_spread(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history.append(path, _document("20261128T000000Z-tabular", 1000.0, 0.05))
    history.append(path, _document("20261128T010000Z-tabular", 1030.0, 0.04))
    history.append(path, _document("20261128T020000Z-tabular", 800.0, 0.04))
    runs = history.read(path)
    assert [r["run_id"][:15] for r in runs] == ["20261128T000000", "20261128T010000", "20261128T020000"]
    first = history.resolve("20261128T00", path)
    second = history.resolve("latest~1", path)
    last = history.resolve("latest", path)
    (noise, *_), _ = history.compare(first, second)
    assert noise.metric == "throughput" and noise.verdict == "within noise"  # +3% inside a 5% band
    (worse, *_), _ = history.compare(second, last)
    assert worse.verdict == "WORSE" and worse.relative == pytest.approx(-0.2233, abs=1e-3)
    with pytest.raises(ValueError, match="holds 3 runs; run `modelserve bench` again to have 4"):
        history.resolve("latest~3", path)
    with pytest.raises(ValueError, match="is empty; run `modelserve bench` to have 2"):
        history.resolve("latest~1", tmp_path / "none.jsonl")
    with pytest.raises(ValueError, match="whole number"):
        history.resolve("latest~x", path)
    with pytest.raises(ValueError, match="no run"):
        history.resolve("nope", path)


def test_compare_without_trials_says_there_is_no_band(tmp_path: Path) -> None:
    changes, unmatched = history.compare(_document("a", 100.0, 0.0), _document("b", 200.0, 0.0))
    assert changes[0].verdict == "no band (trials=1)" and unmatched == []


def test_plots_are_written_from_a_run_document(tmp_path: Path) -> None:
    from modelserve.benchmarks.plots import plot_run

    doc = _document("r", 1000.0, 0.05)
    rows = doc["rows"]
    assert isinstance(rows, list)
    rows.append({**rows[0], "concurrency": 16, "throughput": 2000.0, "p50_ms": 8.0, "p99_ms": 20.0})
    rows[0]["server_split"] = {"queue_us": 100.0, "compute_input_us": 10.0, "compute_infer_us": 500.0}
    rows[0]["api_split_ms"] = {"api": 0.5, "triton": 1.0}
    paths = plot_run(doc, tmp_path)
    assert [p.name for p in paths] == ["latency-throughput.png", "percentiles.png", "time-split.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_cli_compares_saved_runs_and_refuses_bad_points(tmp_path: Path) -> None:
    for name, tput in (("a", 1000.0), ("b", 1500.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps(_document(name, tput, 0.1)))
    runner = CliRunner()
    # Its own history: the repository's real one would bring its A/A noise floor.
    out = runner.invoke(
        app, ["bench", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--results", str(tmp_path)]
    )
    assert out.exit_code == 0, out.output
    assert "+50.0%" in out.output and "better" in out.output
    bad = runner.invoke(app, ["bench", "--concurrency", "4,x", "--results", str(tmp_path)])
    assert bad.exit_code == 1 and "--concurrency must be comma-separated integers" in bad.output
    missing = runner.invoke(app, ["bench", "compare", "nope", "--results", str(tmp_path)])
    assert missing.exit_code == 1 and "no run" in missing.output


def test_measure_interleaves_rounds_and_merges_them_into_trials() -> None:
    from modelserve.benchmarks.measure import Measured, Sweep, measure

    order: list[str] = []

    class Named(Scripted):
        def __init__(self, name: str) -> None:
            super().__init__(delay_s=0.0)
            self.name = name

        async def open(self) -> None:
            order.append(self.name)

    items = [Measured(name=n, make=lambda n=n: Named(n), group="g") for n in ("a", "b")]  # type: ignore[misc]
    sweep = Sweep(concurrency=(1, 2), requests=6, trials=3, warmup_s=0)
    said: list[str] = []
    rows = measure(items, sweep, progress=said.append)
    # A long run says where it is: each round, then each measurement with what is left.
    assert said[0] == "round 1/3" and said[1].startswith("  [1/12] a at c1: ")
    assert said[-1].startswith("  [12/12] b at c2: ") and said[-1].endswith("~0s left")
    assert len(said) == 3 + 12
    # Round by round: every target at every point once, then again.
    assert order == ["a", "a", "b", "b"] * 3
    assert [(r.result.target, r.result.spec.concurrency) for r in rows] == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("b", 2),
    ]
    for row in rows:
        assert len(row.result.trials) == 3 and row.result.spec.trials == 3
        assert row.result.summary.count + row.result.summary.error_count == 18
        assert len(row.result.latencies_s) == row.result.summary.count


def test_server_splits_merge_weighted_by_requests() -> None:
    from modelserve.benchmarks.triton_split import ServerSplit, merge_splits

    def split(requests: int, queue_us: float) -> ServerSplit:
        return ServerSplit(
            requests=requests,
            executions=requests // 2,
            failed=0,
            queue_us=queue_us,
            compute_input_us=1.0,
            compute_infer_us=10.0,
            compute_output_us=1.0,
            success_us=20.0,
        )

    merged = merge_splits([split(100, 10.0), split(300, 50.0)])
    assert merged.requests == 400 and merged.executions == 200
    assert merged.queue_us == pytest.approx(40.0)
    assert merged.compute_infer_us == pytest.approx(10.0)


def test_same_commit_runs_set_a_noise_floor_that_widens_the_band() -> None:
    a1 = _document("a1", 1000.0, 0.02)
    a2 = _document("a2", 1200.0, 0.02)  # same commit, 20% apart: the box's drift
    for doc in (a1, a2):
        doc["machine"] = {"commit": "abc", "date": "2026-11-28"}
    floors, pairs = history.noise_floor([history.history_line(a1), history.history_line(a2)])
    assert pairs == 1
    assert floors[("api predict lr @ c4 b1", "throughput")] == pytest.approx(0.2)
    before, after = _document("x", 1000.0, 0.02), _document("y", 1150.0, 0.02)
    (plain, *_), _ = history.compare(before, after)
    (floored, *_), _ = history.compare(before, after, floors)
    assert plain.verdict == "better"  # +15% against a 2% trial spread
    assert floored.verdict == "within noise" and floored.band == pytest.approx(0.2)
