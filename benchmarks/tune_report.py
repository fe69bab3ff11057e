"""What ``modelserve tune`` prints and records: one outcome per point, the table (per-concurrency
infer/s and p99), and the summary (the best point, its config diff vs the default, what was left out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelserve.benchmarks.report import Row
from modelserve.benchmarks.tune_space import Measured, TunePoint, within_budget


@dataclass(kw_only=True)
class PointOutcome:
    """One point of the sweep: ``measured`` (rows, one per concurrency), ``failed`` (the load was
    refused: ``note`` says why) or ``skipped`` (the time budget ran out first)."""

    index: int
    point: TunePoint
    diff: list[str]  # vs the default config
    again: bool = False  # the default measured a second time, last: the run's A/A pair
    status: str = "pending"
    note: str = ""
    rows: list[Row] = field(default_factory=list)

    def measured(self) -> list[Measured]:
        return [
            Measured(
                concurrency=r.result.spec.concurrency,
                throughput=r.result.summary.items_per_s,
                p50_ms=r.result.summary.p50_ms,
                p99_ms=r.result.summary.p99_ms,
                errors=r.result.summary.error_count,
            )
            for r in self.rows
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "label": self.point.label,
            "config": self.point.as_dict(),
            "status": self.status,
            "note": self.note,
            "again": self.again,
            "diff": self.diff,
            "measured": {
                str(m.concurrency): {
                    "throughput": m.throughput,
                    "p50_ms": m.p50_ms,
                    "p99_ms": m.p99_ms,
                    "errors": m.errors,
                }
                for m in self.measured()
            },
        }


def table(outcomes: Sequence[PointOutcome], concurrency: Sequence[int], best: int | None) -> str:
    """``#``, config, then infer/s and p99 ms per concurrency; ``*`` marks the best point."""
    width = max([len(o.point.label) for o in outcomes] + [6])
    head = f"{'#':>3}  {'config':<{width}}" + "".join(
        f" {f'c{c} inf/s':>11} {f'c{c} p99ms':>10}" for c in concurrency
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        mark = "*" if o.index == best else " "
        text = f"{o.index:>2}{mark}  {o.point.label:<{width}}"
        by_c = {m.concurrency: m for m in o.measured()}
        if o.status != "measured":
            text += f" {o.status}: {o.note}"
        else:
            for c in concurrency:
                m = by_c[c]
                errors = f" ({m.errors} err)" if m.errors else ""
                text += f" {m.throughput:>11,.1f} {m.p99_ms:>10.2f}{errors}"
        lines.append(text + ("  (default)" if o.index == 0 else "  (default again)" if o.again else ""))
    return "\n".join(lines)


def aa_changes(outcomes: Sequence[PointOutcome]) -> dict[int, dict[str, float]]:
    """The default's second measurement vs its first, per concurrency: relative change of the
    throughput and the p99 with nothing changed — this run's own noise. Empty when not measured."""
    again = next((o for o in outcomes if o.again), None)
    if again is None or not again.rows or not outcomes[0].rows:
        return {}
    first = {m.concurrency: m for m in outcomes[0].measured()}
    changes = {}
    for m in again.measured():
        a = first[m.concurrency]
        changes[m.concurrency] = {
            "throughput": m.throughput / a.throughput - 1 if a.throughput else 0.0,
            "p99": m.p99_ms / a.p99_ms - 1 if a.p99_ms else 0.0,
        }
    return changes


def summary_lines(
    outcomes: Sequence[PointOutcome],
    invalid: Mapping[str, str],
    best: int | None,
    concurrency: Sequence[int],
    budget_p99_ms: float | None,
) -> list[str]:
    top = max(concurrency)
    budget = f"p99 <= {budget_p99_ms:g} ms at every concurrency" if budget_p99_ms else "no p99 budget"
    lines = [""]
    first = {m.concurrency: m for m in outcomes[0].measured()}.get(top)
    gain: float | None = None
    if best is None:
        lines.append(f"best: none: no measured point met {budget} without errors")
    else:
        chosen = outcomes[best]
        tput = next(m.throughput for m in chosen.measured() if m.concurrency == top)
        if best != 0 and first is not None and first.throughput > 0:
            gain = tput / first.throughput - 1
        versus = f" ({100 * gain:+.0f}% vs the default)" if gain is not None else ""
        lines.append(f"best ({budget}, highest infer/s at c{top}): #{best} {chosen.point.label}")
        lines.append(f"  {tput:,.1f} infer/s at c{top}{versus}")
        if best == 0:
            lines.append("  the default config is best: no change")
        else:
            lines.append("  changes vs the default config:")
            lines.extend(f"    {d}" for d in chosen.diff)
    aa = aa_changes(outcomes)
    if aa:
        moved = ", ".join(
            f"c{c} {100 * v['throughput']:+.0f}% infer/s, {100 * v['p99']:+.0f}% p99" for c, v in aa.items()
        )
        lines.append(f"noise: the default measured again at the end (A/A): {moved}")
        if gain is not None and abs(gain) <= abs(aa[top]["throughput"]):
            lines.append("  the best's gain is within that A/A change: repeat the tune before trusting it")
    if budget_p99_ms and outcomes[0].rows and not within_budget(outcomes[0].measured(), budget_p99_ms):
        lines.append(f"note: the default itself misses the budget ({budget})")
    skipped = [o for o in outcomes if o.status == "skipped"]
    if skipped:
        lines.append(
            f"not measured (time budget ran out): {len(skipped)} point(s): "
            + ", ".join(f"#{o.index}" for o in skipped)
        )
    for label, why in invalid.items():
        lines.append(f"left out: {label}: {why}")
    return lines
