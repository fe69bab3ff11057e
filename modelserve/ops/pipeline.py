"""CI/CD gates as library calls: validate the training data before training, and judge an
exported version's held-out metrics before it may be promoted (`.github/workflows/ml-pipeline.yml`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelserve.export.tabular_clean import clean
from modelserve.export.tabular_data import load_table
from modelserve.families import open_repository
from modelserve.families.tabular.contract import TabularContract
from modelserve.repository import ModelRepository


@dataclass(frozen=True, kw_only=True)
class DataReport:
    rows: int
    features: int
    classes: dict[str, int]
    missing_share: dict[str, float]  # columns with missing values -> share


def validate_data(
    path: Path, target: str, *, drop: Sequence[str] = (), min_rows: int = 50, min_per_class: int = 5
) -> DataReport:
    """Refuse data the training step cannot learn or evaluate from, naming the problem."""
    # As `export tabular` cleans by default; unreadable, no rows, no such column: raises
    frame, _ = clean(load_table(path), target, drop=drop)
    problems = []
    if len(frame) < min_rows:
        problems.append(f"{len(frame)} rows; at least {min_rows} are needed")
    counts = frame[target].astype(str).value_counts()
    if len(counts) < 2:
        problems.append(f"target '{target}' has {len(counts)} class; a classifier needs 2 or more")
    rare = {str(k): int(v) for k, v in counts.items() if v < min_per_class}
    if rare:
        problems.append(f"classes with fewer than {min_per_class} rows (no stratified held-out set): {rare}")
    features = [c for c in frame.columns if c != target]
    empty = [c for c in features if frame[c].isna().all()]
    if empty:
        problems.append(f"columns with no value at all: {empty}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    missing = {c: float(frame[c].isna().mean()) for c in features if frame[c].isna().any()}
    return DataReport(
        rows=len(frame),
        features=len(features),
        classes={str(k): int(v) for k, v in counts.items()},
        missing_share=missing,
    )


def resolve_version(repository: ModelRepository | Path, name: str, version: str) -> int:
    """``latest`` (the newest version folder) or a number that exists."""
    repo = open_repository(repository)
    versions = repo.versions(name)
    if not versions:
        raise ValueError(f"{repo.root / name}: no versions")
    if version == "latest":
        return versions[-1]
    if not version.isdigit() or int(version) not in versions:
        raise ValueError(f"{name} has no version {version!r} (versions: {versions})")
    return int(version)


def _best_metrics(repo: ModelRepository, name: str, version: int) -> dict[str, Any]:
    contract = repo.contract(name, version)
    if not isinstance(contract, TabularContract) or contract.model not in contract.metrics:
        raise ValueError(
            f"{name} v{version}: no held-out metrics (only `modelserve export tabular` records them)"
        )
    return dict(contract.metrics[contract.model])


@dataclass(frozen=True, kw_only=True)
class Verdict:
    version: int
    f1: float
    baseline: int | None
    baseline_f1: float | None
    passed: bool
    reasons: list[str]


def evaluate(
    repository: ModelRepository | Path, name: str, version: int, *, min_f1: float, max_drop: float = 0.01
) -> Verdict:
    """Pass when the version's held-out weighted F1 is ≥ ``min_f1`` and not more than ``max_drop``
    below the served version's (the one ``lifecycle.json`` names, else the newest other version).
    Each version was scored on its own held-out split: a gate, not a paired comparison."""
    repo = open_repository(repository)
    f1 = float(_best_metrics(repo, name, version)["f1"])
    reasons = []
    if f1 < min_f1:
        reasons.append(f"weighted F1 {f1:.4f} < minimum {min_f1:.4f}")
    served = repo.served_version(name)
    others = [v for v in repo.versions(name) if v != version]
    baseline = served if served is not None and served != version else (others[-1] if others else None)
    baseline_f1 = None
    if baseline is not None:
        try:
            baseline_f1 = float(_best_metrics(repo, name, baseline)["f1"])
        except (ValueError, OSError):
            baseline_f1 = None  # a baseline without metrics cannot gate
        if baseline_f1 is not None and f1 < baseline_f1 - max_drop:
            reasons.append(
                f"weighted F1 {f1:.4f} is below v{baseline}'s {baseline_f1:.4f} by more than {max_drop}"
            )
    return Verdict(
        version=version,
        f1=f1,
        baseline=baseline,
        baseline_f1=baseline_f1,
        passed=not reasons,
        reasons=reasons,
    )
