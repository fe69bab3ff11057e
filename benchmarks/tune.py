"""``modelserve tune``: sweep one model's serving config against a running Triton and pick the best
point under a p99 budget (what Triton's Model Analyzer does, with this suite's load generator).

For each point (the served config first, as the baseline): load the model with the point's config as
a load override (the files do not change), measure it at every asked concurrency with the model's
own sample input, read Triton's statistics around each window. The sweep stops before a point that
would overrun the time budget and reports what it measured. The served config is loaded again at
the end, whatever happened; ``apply`` then reloads the chosen one with verification and writes it
as config.pbtxt (``modelserve.ops.lifecycle.apply_config``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.benchmarks.errors import TuneError
from modelserve.benchmarks.loadgen import LoadSpec, run_load
from modelserve.benchmarks.measure import run_async
from modelserve.benchmarks.report import Row
from modelserve.benchmarks.stats import machine_info
from modelserve.benchmarks.suite import DEFAULT_RESULTS, record
from modelserve.benchmarks.targets import TritonTarget
from modelserve.benchmarks.triton_split import StatisticsWindow
from modelserve.benchmarks.tune_report import PointOutcome, aa_changes, summary_lines, table
from modelserve.benchmarks.tune_space import Axes, apply_point, config_diff, grid, point_of, select_best
from modelserve.client import ClientError, ModelNotFoundError, TritonClient
from modelserve.ops.lifecycle import apply_config, ready_versions, served_version
from modelserve.ops.verify import sample_inputs
from modelserve.repository import ModelRepository
from modelserve.repository.config import config_to_json, config_to_text

READY_WAIT_S = 30.0


@dataclass(frozen=True, kw_only=True)
class TuneOptions:
    model: str
    url: str = "127.0.0.1:8001"
    repository: Path = Path("model_repository")
    control_key: str | None = None
    concurrency: tuple[int, ...] = (1, 4, 16)
    budget_p99_ms: float | None = None
    time_budget_s: float = 300.0
    duration_s: float = 2.0
    warmup_s: float = 0.5
    axes: Axes = field(default_factory=Axes)
    apply: bool = False
    results: Path = DEFAULT_RESULTS
    plots: bool = True
    json_path: Path | None = None

    def measure_s(self) -> float:
        """What measuring one point costs at least (its load comes on top)."""
        return len(self.concurrency) * (self.warmup_s + self.duration_s)


def _served_version(client: TritonClient, repository: Path, name: str) -> int:
    versions = ready_versions(client, name)
    if not versions:
        raise TuneError(
            f"{name} has no ready version on {client.url}; load it first (modelserve models load)"
        )
    return served_version(repository, name, versions)


def sample_request(
    config: mc.ModelConfig, repository: Path, name: str, version: int
) -> dict[str, np.ndarray]:
    """One row the model would see: the version's tabular reference sample where it has one (real
    feature values), else a random draw of the config's types (``modelserve.ops.verify``)."""
    drawn = sample_inputs(config, np.random.default_rng(0), rows=1)
    if len(config.input) == 1 and config.max_batch_size > 0:
        try:
            reference = ModelRepository.of(repository).reference(name, version)
        except (OSError, ValueError):
            reference = None
        if reference is not None and len(reference.features):
            # The reference is stored as float32; the input may be float64 (tabular exports).
            tensor = config.input[0].name
            return {tensor: reference.features[:1].astype(drawn[tensor].dtype)}
    return drawn


def _wait_ready(client: TritonClient, name: str, version: int) -> None:
    deadline = time.monotonic() + READY_WAIT_S
    while not client.is_model_ready(name, str(version)):
        if time.monotonic() > deadline:
            raise TuneError(f"{name} v{version} did not become ready within {READY_WAIT_S:.0f} s")
        time.sleep(0.1)


def _measure(options: TuneOptions, label: str, inputs: dict[str, np.ndarray]) -> list[Row]:
    rows = []
    base = LoadSpec(duration_s=options.duration_s, warmup_s=options.warmup_s, trials=1)
    for c in options.concurrency:
        window = StatisticsWindow(options.url, options.model)
        target = TritonTarget(f"{options.model} {label}", options.url, options.model, inputs)
        result = run_async(
            run_load(target, replace(base, concurrency=c), on_start=window.start, on_stop=window.stop)
        )
        rows.append(Row(result=result, server=window.split, group=f"tune-{options.model}"))
    return rows


def default_config(client: TritonClient, repository: Path, name: str) -> mc.ModelConfig:
    """The exported default: the repository's config.pbtxt where this machine has it, else what the
    server serves (a remote repository). Triton's auto-filled fields stay out of the diffs."""
    repo = ModelRepository.of(repository)
    return repo.config(name) if repo.config_path(name).is_file() else client.config(name)


def _run_point(
    client: TritonClient,
    options: TuneOptions,
    outcome: PointOutcome,
    config: mc.ModelConfig,
    version: int,
    inputs: dict[str, np.ndarray],
    out: Callable[[str], None],
) -> None:
    """Load the point's config, wait until ready, measure it at every concurrency."""
    try:
        client.load(options.model, config=config_to_json(config))
        _wait_ready(client, options.model, version)
    except (ClientError, TuneError) as exc:
        outcome.status = "failed"
        outcome.note = str(exc).splitlines()[0][:200]
        out(f"  #{outcome.index} {outcome.point.label}: load failed: {outcome.note}")
        return
    outcome.rows = _measure(options, outcome.point.label + (" again" if outcome.again else ""), inputs)
    outcome.status = "measured"
    cells = ", ".join(
        f"c{m.concurrency} {m.throughput:,.0f}/s p99 {m.p99_ms:.2f} ms" for m in outcome.measured()
    )
    out(f"  #{outcome.index} {outcome.point.label}{' (default again)' if outcome.again else ''}: {cells}")


def _sweep(
    client: TritonClient,
    options: TuneOptions,
    default: mc.ModelConfig,
    version: int,
    out: Callable[[str], None],
) -> tuple[list[PointOutcome], dict[str, str]]:
    """Every point loaded with its config (the default too: the baseline is the exported config,
    whatever the server served before) and measured, until the time budget runs out; then the
    default once more (an A/A pair: how far the same config moves on this box within the run)."""
    points, invalid = grid(point_of(default), options.axes)
    inputs = sample_request(default, options.repository, options.model, version)
    outcomes: list[PointOutcome] = []
    started, cost = time.monotonic(), options.measure_s()
    for i, point in enumerate(points):
        config = default if i == 0 else apply_point(default, point)
        outcome = PointOutcome(index=i, point=point, diff=config_diff(default, config))
        outcomes.append(outcome)
        left = options.time_budget_s - (time.monotonic() - started)
        if i > 0 and 2 * cost > left:  # this point and the default's repeat must both fit
            outcome.status, outcome.note = "skipped", "time budget"
            continue
        began = time.monotonic()
        _run_point(client, options, outcome, config, version, inputs, out)
        if outcome.status == "measured":
            cost = max(cost, time.monotonic() - began)
    again = PointOutcome(index=len(points), point=points[0], diff=[], again=True)
    outcomes.append(again)
    if options.time_budget_s - (time.monotonic() - started) >= cost:
        _run_point(client, options, again, default, version, inputs, out)
    else:
        again.status, again.note = "skipped", "time budget"
    return outcomes, invalid


def _restore(client: TritonClient, name: str, original: mc.ModelConfig) -> None:
    try:
        client.load(name, config=config_to_json(original))
    except ClientError as exc:
        raise TuneError(
            f"could not load {name}'s original config again on {client.url} ({exc}); "
            f"`modelserve models load {name}` loads it from the repository"
        ) from exc


def _document(
    options: TuneOptions,
    run_id: str,
    version: int,
    outcomes: list[PointOutcome],
    invalid: dict[str, str],
    best: int | None,
    default: mc.ModelConfig,
) -> dict[str, Any]:
    chosen = outcomes[best] if best is not None else None
    chosen_config = apply_point(default, chosen.point) if chosen is not None and best else default
    return {
        "run_id": run_id,
        "scenario": "tune",
        "machine": machine_info(),
        "command": " ".join(sys.argv),
        "settings": {
            "model": options.model,
            "version": version,
            "url": options.url,
            "concurrency": list(options.concurrency),
            "budget_p99_ms": options.budget_p99_ms,
            "time_budget_s": options.time_budget_s,
            "duration_s": options.duration_s,
            "warmup_s": options.warmup_s,
            "axes": asdict(options.axes),
        },
        "notes": [
            "one window per (point, concurrency); client and server share this machine's cores",
            "best: highest throughput at the highest concurrency with p99 <= budget at every concurrency",
        ],
        "rows": [r.as_dict() for o in outcomes for r in o.rows],
        "tune": {
            "baseline": 0,
            "best": best,
            "points": [o.as_dict() for o in outcomes],
            "invalid": invalid,
            "aa": {str(c): v for c, v in aa_changes(outcomes).items()},
            "best_diff": chosen.diff if chosen is not None else [],
            "best_config": config_to_text(chosen_config) if chosen is not None else None,
        },
    }


def tune(options: TuneOptions, *, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Sweep, restore, report, record; with ``apply``, then apply the best point. Returns the run
    document (also written to the run's folder, the history and ``json_path``)."""
    name = options.model
    if options.apply and not ModelRepository(options.repository).config_path(name).is_file():
        raise TuneError(
            f"--apply needs the repository holding {name}: no {options.repository / name}/config.pbtxt"
        )
    with TritonClient(options.url, timeout_s=60, control_key=options.control_key) as client:
        try:
            original = client.config(name)
        except ModelNotFoundError as exc:
            raise TuneError(
                f"{name} is not loaded on {options.url}; load it first (modelserve models load)"
            ) from exc
        version = _served_version(client, options.repository, name)
        default = default_config(client, options.repository, name)
        started = dt.datetime.now(dt.UTC)
        run_id = f"{started:%Y%m%dT%H%M%SZ}-tune-{name}"
        points = ",".join(str(c) for c in options.concurrency)
        out(f"run {run_id}: tuning {name} v{version} on {options.url}, concurrency {points}")
        try:
            outcomes, invalid = _sweep(client, options, default, version, out)
        finally:
            _restore(client, name, original)
        out(f"restored {name}'s original config on {options.url}")
        measured = [[] if o.again else o.measured() for o in outcomes]
        best = select_best(measured, options.concurrency, options.budget_p99_ms)
        document = _document(options, run_id, version, outcomes, invalid, best, default)
        out("")
        out(table(outcomes, options.concurrency, best))
        for line in summary_lines(outcomes, invalid, best, options.concurrency, options.budget_p99_ms):
            out(line)
        if options.apply:
            document["tune"]["applied"] = _apply(client, options, outcomes, best, out)
    _record(options, document, outcomes, out)
    return document


def _apply(
    client: TritonClient,
    options: TuneOptions,
    outcomes: list[PointOutcome],
    best: int | None,
    out: Callable[[str], None],
) -> bool:
    if not best:  # None (nothing qualified) or 0 (the default is best)
        out(
            "--apply: nothing to apply ("
            + ("no point met the budget" if best is None else "the default is best")
            + ")"
        )
        return False
    repo = ModelRepository(options.repository)
    path = repo.config_path(options.model)
    config = apply_point(repo.config(options.model), outcomes[best].point)
    outcome = apply_config(client, options.repository, options.model, config)
    out(
        f"applied #{best} to {path}: loaded, verified (max |diff| {outcome.max_abs_diff:.2g} vs ORT), written"
    )
    return True


def _record(
    options: TuneOptions, document: dict[str, Any], outcomes: list[PointOutcome], out: Callable[[str], None]
) -> None:
    rows = [r for o in outcomes for r in o.rows]
    run_dir, paths = record(options.results, document, rows)
    (run_dir / "tune.json").write_text(json.dumps(document["tune"], indent=2) + "\n")
    if options.plots and rows:
        from modelserve.benchmarks.plots import latency_throughput, tune_bars

        machine = document["machine"]
        title = f"tune {options.model} — {machine.get('cpu', '')} — {machine['date'][:10]}"
        paths.append(latency_throughput(document["rows"], title, run_dir / "latency-throughput.png"))
        paths.append(tune_bars(document["tune"], options.budget_p99_ms, title, run_dir / "tune.png"))
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(document, indent=2) + "\n")
        out(f"wrote {options.json_path}")
    out(f"wrote {run_dir}: " + ", ".join(p.name for p in paths) + ", tune.json")
    out(f"appended to {options.results / 'history.jsonl'}")
