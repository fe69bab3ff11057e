"""PNG plots of a run: latency-throughput curves, percentiles per load point, where the time goes.

Drawn from the run document's rows (``report.Row.as_dict``), so a saved ``run.json`` can be
re-plotted later with ``modelserve bench plot``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI

import matplotlib.pyplot as plt


def _x(row: Mapping[str, Any]) -> float:
    return float(row["rate"] if row["mode"] == "open" else row["concurrency"])


def _by_target(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        batch = int(row.get("items_per_request", 1))
        out.setdefault(row["target"] + (f" b{batch}" if batch > 1 else ""), []).append(row)
    return {k: sorted(v, key=_x) for k, v in out.items()}


def latency_throughput(rows: Sequence[Mapping[str, Any]], title: str, path: Path) -> Path:
    """p50 (solid) and p99 (dashed) latency against achieved throughput, one line per target."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for target, points in _by_target(rows).items():
        xs = [p["throughput"] for p in points]
        line = ax.plot(xs, [p["p50_ms"] for p in points], marker="o", label=f"{target} p50")[0]
        ax.plot(xs, [p["p99_ms"] for p in points], ls="--", marker="x", color=line.get_color(), label="p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab != "p99"]
    ax.legend([h for h, _ in keep], [lab for _, lab in keep], fontsize=7, title="dashed: p99")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def percentiles(rows: Sequence[Mapping[str, Any]], title: str, path: Path) -> Path:
    """p50/p90/p95/p99/max per load point, one panel per target."""
    groups = _by_target(rows)
    fig, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 4), squeeze=False, sharey=True)
    for ax, (target, points) in zip(axes[0], groups.items(), strict=True):
        xs = [_x(p) for p in points]
        for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"):
            ax.plot(xs, [p[key] for p in points], marker=".", label=key.removesuffix("_ms"))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(target, fontsize=8)
        ax.set_xlabel("rate (req/s)" if points[0]["mode"] == "open" else "concurrency")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("latency (ms)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


SPLIT_PARTS = (
    ("queue_us", "Triton queue"),
    ("compute_input_us", "Triton compute input"),
    ("compute_infer_us", "Triton compute infer"),
    ("compute_output_us", "Triton compute output"),
)


def time_split(rows: Sequence[Mapping[str, Any]], title: str, path: Path) -> Path:
    """Mean latency of each (target, load point) split into Triton's parts, the API's own work and
    the rest (network, HTTP, client): stacked horizontal bars."""
    labels, stacks = [], []
    for row in rows:
        load = f"c{row['concurrency']}" if row["mode"] == "closed" else f"{row['rate']:g}/s"
        batch = int(row.get("items_per_request", 1))
        labels.append(f"{row['target']} {load}" + (f" b{batch}" if batch > 1 else ""))
        server = row.get("server_split") or {}
        api = row.get("api_split_ms") or {}
        parts = [server.get(k, 0.0) / 1e3 for k, _ in SPLIT_PARTS]
        api_own = float(api.get("api", 0.0))
        rest = max(float(row["avg_ms"]) - sum(parts) - api_own, 0.0)
        stacks.append([*parts, api_own, rest])
    names = [name for _, name in SPLIT_PARTS] + ["API own work", "network, HTTP, client, other"]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(labels) + 1.5))
    left = [0.0] * len(labels)
    for i, name in enumerate(names):
        widths = [s[i] for s in stacks]
        ax.barh(labels, widths, left=left, label=name)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("mean latency (ms)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tune_bars(tune: Mapping[str, Any], budget_p99_ms: float | None, title: str, path: Path) -> Path:
    """``modelserve tune``: throughput at the highest concurrency per measured point (the best one
    hatched), and its p99 against the budget on a second axis."""
    points = [p for p in tune["points"] if p["measured"]]
    top = str(max(int(c) for p in points for c in p["measured"]))
    labels = [f"#{p['index']}" + (" (#0 again)" if p.get("again") else "") for p in points]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(points) + 2), 4))
    bars = ax.bar(labels, [p["measured"][top]["throughput"] for p in points], color="tab:blue", alpha=0.7)
    for p, bar in zip(points, bars, strict=True):
        if p["index"] == tune.get("best"):
            bar.set_hatch("//")
            bar.set_edgecolor("black")
    ax.set_ylabel(f"infer/s at c{top}")
    p99 = ax.twinx()
    p99.plot(labels, [p["measured"][top]["p99_ms"] for p in points], "o", color="tab:red", label="p99")
    if budget_p99_ms:
        p99.axhline(budget_p99_ms, color="tab:red", ls="--", lw=1, label="p99 budget")
    p99.set_ylabel("p99 latency (ms)")
    p99.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("point (hatched: best; labels in tune.json)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(document: Mapping[str, Any], out_dir: Path) -> list[Path]:
    rows = document["rows"]
    machine = document["machine"]
    title = f"{document.get('scenario', 'bench')} — {machine.get('cpu', '')} — {machine['date'][:10]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        latency_throughput(rows, title, out_dir / "latency-throughput.png"),
        percentiles(rows, title, out_dir / "percentiles.png"),
        time_split(rows, title, out_dir / "time-split.png"),
    ]
