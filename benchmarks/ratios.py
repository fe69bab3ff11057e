"""Baselines as ratios: each pair of targets measured in the same run at the same load point, with
the goal the issue sets where there is one (``met`` is None where there is no goal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class RatioRule:
    label: str
    numerator: str  # target name prefix (the model key follows it)
    denominator: str
    metric: str  # a row field: throughput, p50_ms, p99_ms
    goal: float | None = None
    goal_is_minimum: bool = True


RULES = (
    RatioRule(
        label="API / Triton HTTP, throughput",
        numerator="api",
        denominator="triton http",
        metric="throughput",
        goal=0.30,
    ),
    RatioRule(
        label="API / Triton HTTP, p99",
        numerator="api",
        denominator="triton http",
        metric="p99_ms",
        goal=3.0,
        goal_is_minimum=False,
    ),
    RatioRule(
        label="API / Flask in-process, throughput",
        numerator="api",
        denominator="flask+gunicorn",
        metric="throughput",
    ),
    RatioRule(
        label="Triton HTTP / Flask in-process, throughput",
        numerator="triton http",
        denominator="flask+gunicorn",
        metric="throughput",
    ),
    RatioRule(
        label="API / MLServer, throughput",
        numerator="api",
        denominator="mlserver",
        metric="throughput",
        goal=1.0,
    ),
    RatioRule(
        label="Triton HTTP / MLServer, throughput",
        numerator="triton http",
        denominator="mlserver",
        metric="throughput",
    ),
    RatioRule(
        label="Triton gRPC / ORT in-process, throughput",
        numerator="triton grpc",
        denominator="onnxruntime in-process",
        metric="throughput",
    ),
    # What recording every prediction (monitoring) costs the API: the same API with it off.
    RatioRule(
        label="API / API without monitoring, throughput",
        numerator="api predict",
        denominator="unmonitored api predict",
        metric="throughput",
    ),
    RatioRule(
        label="API / API without monitoring, p99",
        numerator="api predict",
        denominator="unmonitored api predict",
        metric="p99_ms",
    ),
    RatioRule(
        label="API / Triton gRPC (preprocessed tensor), p50",
        numerator="api classify",
        denominator="triton grpc",
        metric="p50_ms",
        goal=1.15,
        goal_is_minimum=False,
    ),
)


@dataclass(frozen=True, kw_only=True)
class Ratio:
    group: str
    load: str
    label: str
    numerator: str
    denominator: str
    value: float
    goal: float | None
    goal_is_minimum: bool
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load(row: Mapping[str, Any]) -> str:
    return f"c{row['concurrency']}" if row["mode"] == "closed" else f"{row['rate']:g}/s"


def _matching(rows: Sequence[Mapping[str, Any]], prefix: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["target"].startswith(prefix + " ") and r["count"] > 0]


def _model(row: Mapping[str, Any]) -> str:
    """The model a target measures: its last word ("api classify resnet50" -> "resnet50")."""
    return str(row["target"]).split()[-1]


def ratios(rows: Sequence[Mapping[str, Any]], rules: Sequence[RatioRule] = RULES) -> list[Ratio]:
    """For every group and load point where both targets of a rule were measured."""
    cells: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["group"], _load(row)), []).append(row)
    out = []
    for (group, load), cell in cells.items():
        for rule in rules:
            if rule.metric == "throughput" and cell[0]["mode"] == "open":
                continue  # at a fixed request rate every target serves the rate: nothing to compare
            # Each numerator against the denominator of the same model: a route's p50 over another
            # model's (resnet50 API / segments Triton) was a verdict from the wrong rows.
            dens = {_model(d): d for d in _matching(cell, rule.denominator)}
            for num in _matching(cell, rule.numerator):
                den = dens.get(_model(num))
                if den is None or not den[rule.metric]:
                    continue
                out.append(_ratio(group, load, rule, num, den))
    return out


def _ratio(group: str, load: str, rule: RatioRule, num: Mapping[str, Any], den: Mapping[str, Any]) -> Ratio:
    value = float(num[rule.metric]) / float(den[rule.metric])
    met = None
    if rule.goal is not None:
        met = value >= rule.goal if rule.goal_is_minimum else value <= rule.goal
    return Ratio(
        group=group,
        load=load,
        label=rule.label,
        numerator=str(num["target"]),
        denominator=str(den["target"]),
        value=value,
        goal=rule.goal,
        goal_is_minimum=rule.goal_is_minimum,
        met=met,
    )


def format_ratios(items: Sequence[Ratio]) -> str:
    lines = [f"{'group':<14} {'load':>6} {'ratio':<46} {'model':<18} {'value':>8} {'goal':>14}"]
    for r in items:
        goal = ""
        if r.goal is not None:
            goal = f"{'>=' if r.goal_is_minimum else '<='}{r.goal:g} {'met' if r.met else 'MISSED'}"
        model = r.numerator.split()[-1]
        lines.append(f"{r.group:<14} {r.load:>6} {r.label:<46} {model:<18} {r.value:>8.3g} {goal:>14}")
    return "\n".join(lines)
