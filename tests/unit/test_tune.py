"""``modelserve tune`` without a server: the search space, configs as protobuf, the diff, the choice
of the best point (synthetic numbers) and the checks of the verb's arguments."""

from __future__ import annotations

import pytest
from tritonclient.grpc import model_config_pb2 as mc
from typer.testing import CliRunner

from modelserve.benchmarks.errors import TuneError
from modelserve.benchmarks.tune_space import (
    THREADS_PARAMETER,
    Axes,
    Measured,
    TunePoint,
    apply_point,
    config_diff,
    grid,
    point_of,
    select_best,
)
from modelserve.cli.app import app
from modelserve.cli.tune import parse_ints, parse_preferred
from modelserve.families.tabular.exporter import classifier_entry
from modelserve.repository.config import build_config


def _default() -> mc.ModelConfig:
    return build_config(classifier_entry("m", 4, 3, cpu_only=True))


def _m(c: int, tput: float, p99: float, errors: int = 0) -> Measured:
    return Measured(concurrency=c, throughput=tput, p50_ms=p99 / 2, p99_ms=p99, errors=errors)


def test_the_exported_config_reads_as_a_point() -> None:
    point = point_of(_default())
    assert point == TunePoint(instances=1, max_batch=128, preferred=(), queue_delay_us=100, ort_threads=None)


def test_grid_puts_the_default_first_and_leaves_out_repeats_and_invalid_points() -> None:
    default = point_of(_default())
    points, invalid = grid(default, Axes(instances=(1, 2), queue_delay_us=(100, 500), preferred=((), (256,))))
    assert points[0] == default
    assert len(points) == len(set(points)) == 4  # 2 instances x 2 delays; pref 256 > max batch
    assert all(p.preferred == () for p in points)
    assert len(invalid) == 4 and all("> max_batch_size 128" in why for why in invalid.values())


def test_apply_point_builds_the_config_as_a_message_and_the_diff_names_each_change() -> None:
    base = _default()
    point = TunePoint(instances=2, max_batch=32, preferred=(8, 16), queue_delay_us=500, ort_threads=1)
    config = apply_point(base, point)
    assert point_of(config) == point
    assert config.input == base.input and config.model_warmup == base.model_warmup  # the rest kept
    assert config.parameters[THREADS_PARAMETER].string_value == "1"
    diff = config_diff(base, config)
    assert "instance_group[0].count: 1 -> 2" in diff
    assert "max_batch_size: 128 -> 32" in diff
    assert "dynamic_batching.max_queue_delay_microseconds: 100 -> 500" in diff
    assert any(d.startswith("dynamic_batching.preferred_batch_size: - -> ") for d in diff)
    assert any(d.startswith(f"parameters.{THREADS_PARAMETER}") for d in diff)
    assert config_diff(base, apply_point(base, point_of(base))) == []
    off = apply_point(config, TunePoint(instances=1, max_batch=32))
    assert not off.HasField("dynamic_batching") and THREADS_PARAMETER not in off.parameters


def test_a_model_that_does_not_batch_cannot_be_given_a_batch() -> None:
    base = _default()
    base.max_batch_size = 0
    base.ClearField("dynamic_batching")
    with pytest.raises(TuneError, match="does not batch"):
        apply_point(base, TunePoint(instances=1, max_batch=8))


def test_best_is_the_highest_throughput_at_the_top_concurrency_within_the_budget_everywhere() -> None:
    results = [
        [_m(1, 100, 2.0), _m(4, 300, 4.0)],  # default
        [_m(1, 120, 2.0), _m(4, 500, 9.0)],  # fastest, but over budget at c4
        [_m(1, 90, 6.0), _m(4, 400, 4.0)],  # over budget at c1
        [_m(1, 110, 2.5), _m(4, 350, 4.5)],  # within: the best
        [_m(1, 500, 1.0), _m(4, 900, 1.0, errors=3)],  # errors disqualify
        [_m(1, 999, 1.0)],  # not measured at every concurrency
        [],  # failed or skipped
    ]
    assert select_best(results, [1, 4], 5.0) == 3
    assert select_best(results, [1, 4], None) == 1  # no budget: throughput only (errors still count)
    assert select_best(results, [1, 4], 0.5) is None
    assert select_best([[_m(1, 100, 1.0)], [_m(1, 100, 1.0)]], [1], 5.0) == 0  # a tie keeps the default


def test_option_values_parse_or_say_what_is_wrong() -> None:
    assert parse_ints("1, 4,16", "--concurrency") == (1, 4, 16)
    assert parse_ints("0,100", "--queue-delay-us", minimum=0) == (0, 100)
    assert parse_preferred("none,8,4+16") == ((), (8,), (4, 16))
    for text, message in (("1,x", "integers"), ("0", ">= 1"), ("2,2", "twice")):
        with pytest.raises(ValueError, match=message):
            parse_ints(text, "--instances")
    with pytest.raises(ValueError, match="increasing"):
        parse_preferred("16+4")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "1,a"], "--concurrency must be comma-separated integers"),
        (["--concurrency", ""], "--concurrency needs at least one value"),
        (["--budget-p99-ms", "0"], "--budget-p99-ms must be > 0"),
        (["--time-budget-s", "1", "--concurrency", "1,4"], "cannot measure even the default"),
        (["--instances", "0"], "--instances must be integers >= 1"),
        (["--queue-delay-us", "-5"], "--queue-delay-us must be integers >= 0"),
        (["--preferred-batch", "8+4"], "increasing order"),
        (["--url", "a:1,b:2"], "one server"),
        (["--duration", "0"], "--duration must be > 0"),
    ],
)
def test_bad_arguments_exit_1_with_one_error_line_before_reaching_a_server(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["tune", "m", "--url", "127.0.0.1:1", *args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
