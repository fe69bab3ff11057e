"""The retraining job monitoring triggers (and operators may run by hand): train on the data, export
a new repository version, gate it on its held-out metrics, promote it on Triton.

The new version keeps the served version's contract: columns of the data that the served feature
spec does not have are dropped, and data lacking one of its fields is refused, so clients' records
stay valid across the switch; the table is cleaned with the options the served version recorded
(the defaults for a version that recorded none). Without ``data``/``target`` it retrains on the
source the served version was trained from (a refreshed table at the same path, typically).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelserve.export.tabular_clean import CleaningOptions
from modelserve.export.tabular_data import load_table
from modelserve.export.tabular_train import CANDIDATES
from modelserve.families import open_repository
from modelserve.families.tabular.contract import TabularContract
from modelserve.families.tabular.exporter import export_tabular
from modelserve.ops.fleet import open_fleet
from modelserve.ops.lifecycle import promote
from modelserve.ops.pipeline import evaluate
from modelserve.repository import ModelRepository


class RetrainRejectedError(ValueError):
    """The new version failed the metrics gate: it stays on disk, unserved."""


@dataclass(frozen=True, kw_only=True)
class Retrained:
    model: str
    version: int
    previous: list[int]
    trained: str
    f1: float
    baseline_f1: float | None
    data: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _served_contract(repo: ModelRepository, name: str) -> tuple[int, TabularContract]:
    versions = repo.versions(name)
    if not versions:
        raise ValueError(f"{repo.root / name}: no versions to retrain from")
    served = repo.served_version(name)
    version = served if served in versions else versions[-1]
    contract = repo.contract(name, version)
    if not isinstance(contract, TabularContract):
        raise ValueError(f"{name} v{version} is {contract.label}: only tabular exports can be retrained")
    return version, contract


def retrain(
    repository: ModelRepository | Path,
    name: str,
    *,
    url: str,
    protocol: str = "grpc",
    control_key: str | None = None,
    data: Path | None = None,
    target: str | None = None,
    models: Sequence[str] = (),
    drop: Sequence[str] = (),
    min_f1: float = 0.7,
    max_drop: float = 0.01,
    grace_s: float = 2.0,
    progress: Callable[[str], None] = lambda _: None,
) -> Retrained:
    repo = open_repository(repository)  # one reader for the whole job: each file parsed once
    version, contract = _served_contract(repo, name)
    spec = contract.features
    if data is None:
        data = Path(str(contract.source or ""))
        if not data.is_file():
            raise ValueError(f"no --data given and v{version}'s source {str(data)!r} is not a file")
    target = target or spec.target
    columns = [str(c) for c in load_table(data).columns]
    fields = [f.name for f in spec.fields]
    lacking = [f for f in fields if f not in columns]
    if lacking:
        raise ValueError(f"{data} lacks fields of the served contract (v{version}): {lacking}")
    extra = [c for c in columns if c not in fields and c != target and c not in drop]
    progress(f"retraining {name} from {data} (served: v{version}; dropping {extra or 'nothing'})")
    result, written = export_tabular(
        repo,
        name,
        data,
        target,
        models=tuple(models) or tuple(CANDIDATES),
        drop=[*drop, *extra],
        progress=progress,
        cleaning=CleaningOptions.from_dict(contract.cleaning.get("options", {})),
    )
    verdict = evaluate(repo, name, written.version, min_f1=min_f1, max_drop=max_drop)
    if not verdict.passed:
        raise RetrainRejectedError(
            f"{name} v{written.version} fails the gate, stays unserved: " + "; ".join(verdict.reasons)
        )
    progress(f"promoting {name} v{written.version} (weighted F1 {verdict.f1:.4f})")
    # On every replica the URL names (a list or dns:///): model control is per server.
    with open_fleet(url, protocol=protocol, timeout_s=120, control_key=control_key) as fleet:
        outcome = promote(fleet, repo, name, written.version, grace_s=grace_s)
    return Retrained(
        model=name,
        version=written.version,
        previous=outcome.previous,
        trained=result.best,
        f1=verdict.f1,
        baseline_f1=verdict.baseline_f1,
        data=str(data),
    )
