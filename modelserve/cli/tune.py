"""``modelserve tune MODEL``: the verb's options, checked into ``TuneOptions`` (one-line errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelserve.benchmarks.tune_space import Axes
from modelserve.cli.bench import DEFAULT_RESULTS
from modelserve.cli.common import ControlKey, Repo, Url, WorkDir, run, setup_logging
from modelserve.ops.control import resolve_key


def parse_ints(text: str, what: str, *, minimum: int = 1) -> tuple[int, ...]:
    """``1,4,16`` -> (1, 4, 16); empty -> (); anything else a ValueError naming the option."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers, got {text!r}") from None
    if values and min(values) < minimum:
        raise ValueError(f"{what} must be integers >= {minimum}, got {text!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{what} lists a value twice: {text!r}")
    return values


def parse_preferred(text: str) -> tuple[tuple[int, ...], ...]:
    """Sweep values separated by commas, each a ``+``-joined list of sizes or ``none``:
    ``none,8,4+16`` -> ((), (8,), (4, 16))."""
    values: list[tuple[int, ...]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        sizes = () if part.lower() == "none" else parse_ints(part.replace("+", ","), "--preferred-batch")
        if sizes != tuple(sorted(sizes)):
            raise ValueError(f"--preferred-batch sizes go in increasing order, got {part!r}")
        values.append(sizes)
    return tuple(values)


def check(
    concurrency: tuple[int, ...], budget: float | None, time_budget: float, duration: float, warmup: float
) -> None:
    if not concurrency:
        raise ValueError("--concurrency needs at least one value, e.g. 1,4,16")
    if budget is not None and budget <= 0:
        raise ValueError(f"--budget-p99-ms must be > 0, got {budget:g}")
    if duration <= 0 or warmup < 0:
        raise ValueError("--duration must be > 0 and --warmup >= 0 seconds")
    floor = len(concurrency) * (duration + warmup)
    if time_budget < floor:
        raise ValueError(
            f"--time-budget-s {time_budget:g} cannot measure even the default: it needs "
            f"{floor:g} s ({len(concurrency)} concurrencies x (--warmup + --duration))"
        )


def tune(
    model: Annotated[str, typer.Argument(help="the model to tune (loaded on the server)")],
    url: Url = "127.0.0.1:8001",
    repository: Repo = Path("model_repository"),
    concurrency: Annotated[str, typer.Option(help="closed-loop concurrencies per point")] = "1,4,16",
    budget_p99_ms: Annotated[
        float | None, typer.Option("--budget-p99-ms", help="p99 latency budget (ms) at every concurrency")
    ] = None,
    time_budget_s: Annotated[
        float, typer.Option("--time-budget-s", help="stop the sweep by then (s)")
    ] = 300.0,
    instances: Annotated[str, typer.Option(help="instance counts, e.g. 1,2")] = "",
    max_batch: Annotated[str, typer.Option("--max-batch", help="max_batch_size values, e.g. 8,128")] = "",
    preferred_batch: Annotated[
        str, typer.Option("--preferred-batch", help="preferred batch sizes: none,8,4+16 (+ joins one list)")
    ] = "",
    queue_delay_us: Annotated[
        str, typer.Option("--queue-delay-us", help="dynamic batching max queue delay (µs), e.g. 0,100,500")
    ] = "",
    ort_threads: Annotated[
        str, typer.Option("--ort-threads", help="ONNX Runtime intra-op threads per instance, e.g. 1,2")
    ] = "",
    duration: Annotated[float, typer.Option(help="seconds measured per point and concurrency")] = 2.0,
    warmup: Annotated[float, typer.Option(help="warm-up seconds before each window")] = 0.5,
    apply: Annotated[
        bool, typer.Option("--apply", help="write the best config as config.pbtxt (verified)")
    ] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the run document here")] = None,
    results: Annotated[Path, typer.Option(help="results folder (runs/, history.jsonl)")] = DEFAULT_RESULTS,
    plots: Annotated[bool, typer.Option(help="write PNG plots")] = True,
    control_key: ControlKey = None,
    work_dir: WorkDir = Path(".modelserve"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Sweep MODEL's serving config on a running Triton; report the best point under a p99 budget."""
    setup_logging(verbose)

    def go() -> None:
        from modelserve.benchmarks.tune import TuneOptions
        from modelserve.benchmarks.tune import tune as run_tune

        if "," in url or url.startswith("dns:"):
            raise ValueError(f"--url names one server to tune, got {url!r}")
        points = parse_ints(concurrency, "--concurrency")
        check(points, budget_p99_ms, time_budget_s, duration, warmup)
        axes = Axes(
            instances=parse_ints(instances, "--instances"),
            max_batch=parse_ints(max_batch, "--max-batch"),
            preferred=parse_preferred(preferred_batch),
            queue_delay_us=parse_ints(queue_delay_us, "--queue-delay-us", minimum=0),
            ort_threads=parse_ints(ort_threads, "--ort-threads"),
        )
        options = TuneOptions(
            model=model,
            url=url,
            repository=repository,
            control_key=resolve_key(control_key, work_dir),
            concurrency=points,
            budget_p99_ms=budget_p99_ms,
            time_budget_s=time_budget_s,
            duration_s=duration,
            warmup_s=warmup,
            axes=axes,
            apply=apply,
            results=results,
            plots=plots,
            json_path=json_path,
        )
        run_tune(options, out=typer.echo)

    run(go)
