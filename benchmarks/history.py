"""The run history (one JSON line per run) and ``bench compare``: the differences between two runs,
judged against the run-to-run spread each run measured (its repeated trials), not an assumed band.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a history line keeps per row: enough to compare, small enough to keep forever.
_ROW_KEYS = (
    "group",
    "target",
    "mode",
    "concurrency",
    "rate",
    "items_per_request",
    "count",
    "errors",
    "throughput",
    "items_per_s",
    "avg_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "throughput_spread",
    "p50_spread",
    "p99_spread",
)


def history_line(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": document["run_id"],
        "scenario": document.get("scenario", ""),
        "machine": document["machine"],
        "settings": document.get("settings", {}),
        "rows": [{k: row.get(k) for k in _ROW_KEYS} for row in document["rows"]],
    }


def append(history: Path, document: Mapping[str, Any]) -> None:
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a") as fh:
        fh.write(json.dumps(history_line(document), separators=(",", ":")) + "\n")


def read(history: Path) -> list[dict[str, Any]]:
    if not history.exists():
        return []
    runs = []
    for n, line in enumerate(history.read_text().splitlines(), 1):
        if line.strip():
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{history}:{n}: not a JSON line ({exc.msg})") from exc
    # Oldest first by when each run started (ids begin with a UTC timestamp): lines are appended
    # in the order runs finished, and merged branches interleave them.
    return sorted(runs, key=lambda r: str(r.get("run_id", "")))


def describe(run: Mapping[str, Any]) -> str:
    """A run in one line: id, commit, CPU, cores."""
    m = run.get("machine", {})
    return (
        f"{run['run_id']} (commit {m.get('commit', '?')}, {m.get('cpu', '?')}, {m.get('cores', '?')} cores)"
    )


def machine_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """What makes two runs' numbers incomparable (another CPU model, core count or GPU), or None."""
    ma, mb = a.get("machine", {}), b.get("machine", {})
    diffs = [
        f"{k}: {ma.get(k)!r} vs {mb.get(k)!r}" for k in ("cpu", "cores", "gpu") if ma.get(k) != mb.get(k)
    ]
    return "; ".join(diffs) or None


def resolve(ref: str, history: Path) -> dict[str, Any]:
    """A run named by a path (run.json or its directory), a run id in the history, or ``latest`` /
    ``latest~N`` (N runs before the latest)."""
    path = Path(ref)
    if path.is_dir():
        path = path / "run.json"
    if path.is_file():
        return history_line(json.loads(path.read_text()))
    runs = read(history)
    if ref == "latest" or ref.startswith("latest~"):
        tail = ref.partition("~")[2] or "0"
        if not tail.isdigit():
            raise ValueError(f"{ref!r}: write latest~N with N a whole number of runs back")
        back = int(tail)
        if back >= len(runs):
            held = f"holds {len(runs)} run{'s' if len(runs) != 1 else ''}" if runs else "is empty"
            raise ValueError(
                f"{ref}: the history {history} {held}; run `modelserve bench` "
                f"{'again ' if runs else ''}to have {back + 1} to compare, or name a run.json"
            )
        return runs[-1 - back]
    matches = [r for r in runs if r["run_id"] == ref or r["run_id"].startswith(ref)]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise ValueError(f"{ref!r}: {what} in {history} match (give a run id, a run.json path or latest~N)")
    return matches[0]


@dataclass(frozen=True, kw_only=True)
class Change:
    key: str  # target @ load
    metric: str
    before: float
    after: float
    band: float  # relative noise band: the largest of the runs' trial spreads and the A/A floor
    higher_is_better: bool

    @property
    def relative(self) -> float:
        return _relative(self.before, self.after)

    @property
    def verdict(self) -> str:
        if self.band == 0.0:
            return "no band (trials=1)"
        if abs(self.relative) <= self.band:
            return "within noise"
        better = (self.relative > 0) == self.higher_is_better
        return "better" if better else "WORSE"


def _key(row: Mapping[str, Any]) -> str:
    load = f"c{row['concurrency']}" if row["mode"] == "closed" else f"{row['rate']:g}/s"
    return f"{row['target']} @ {load} b{row.get('items_per_request', 1)}"


METRICS = (
    ("throughput", "throughput_spread", True),
    ("p50_ms", "p50_spread", False),
    ("p99_ms", "p99_spread", False),
)


def _relative(before: float, after: float) -> float:
    return (after - before) / before if before else 0.0


def noise_floor(runs: Sequence[Mapping[str, Any]]) -> tuple[dict[tuple[str, str], float], int]:
    """Per (row, metric): the largest change seen between two runs of the *same commit and
    scenario* in the history (A/A pairs) — how far this box drifts between runs with nothing
    changed, which the trials inside one run cannot see. Returns the floors and the pair count."""
    floors: dict[tuple[str, str], float] = {}
    pairs = 0
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            commit = a["machine"].get("commit", "unknown")
            same = (
                commit == b["machine"].get("commit") and commit != "unknown" and not commit.endswith("-dirty")
            )
            if not same or a.get("scenario") != b.get("scenario"):
                continue
            pairs += 1
            rows_b = {_key(r): r for r in b["rows"]}
            for ra in a["rows"]:
                rb = rows_b.get(_key(ra))
                if rb is None:
                    continue
                for metric, _, _ in METRICS:
                    change = abs(_relative(float(ra[metric]), float(rb[metric])))
                    k = (_key(ra), metric)
                    floors[k] = max(floors.get(k, 0.0), change)
    return floors, pairs


def compare(
    a: Mapping[str, Any], b: Mapping[str, Any], floors: Mapping[tuple[str, str], float] | None = None
) -> tuple[list[Change], list[str]]:
    """Changes for the (target, load) rows both runs have; and the rows only one has. The band of
    a change is the larger of the two runs' trial spreads and the A/A floor (``noise_floor``)."""
    rows_a = {_key(r): r for r in a["rows"]}
    rows_b = {_key(r): r for r in b["rows"]}
    changes = []
    for key in (k for k in rows_a if k in rows_b):
        ra, rb = rows_a[key], rows_b[key]
        for metric, spread_key, higher in METRICS:
            changes.append(
                Change(
                    key=key,
                    metric=metric,
                    before=float(ra[metric]),
                    after=float(rb[metric]),
                    band=max(
                        float(ra.get(spread_key) or 0.0),
                        float(rb.get(spread_key) or 0.0),
                        (floors or {}).get((key, metric), 0.0),
                    ),
                    higher_is_better=higher,
                )
            )
    unmatched = [f"only in A: {k}" for k in rows_a if k not in rows_b]
    unmatched += [f"only in B: {k}" for k in rows_b if k not in rows_a]
    return changes, unmatched


def format_changes(changes: Sequence[Change], unmatched: Sequence[str]) -> str:
    head = f"{'target @ load':<44} {'metric':<10} {'A':>10} {'B':>10} {'change':>8} {'noise':>7}  verdict"
    lines = [head, "-" * len(head)]
    for c in changes:
        lines.append(
            f"{c.key[:44]:<44} {c.metric:<10} {c.before:>10.2f} {c.after:>10.2f} "
            f"{100 * c.relative:>+7.1f}% {100 * c.band:>6.1f}%  {c.verdict}"
        )
    lines.extend(unmatched)
    return "\n".join(lines)
