"""What a repository holds and what a server serves, side by side (``modelserve models list``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelserve.ops.fleet import open_fleet
from modelserve.repository import ModelRepository


@dataclass(frozen=True, kw_only=True)
class InventoryRow:
    name: str
    version: str
    model_id: str
    created: str
    weights: str  # the provenance: pretrained, local, trained, random, unknown; "-" without a contract
    state: str  # READY / UNAVAILABLE / ... from the server; "-" without one
    note: str  # why a model is unusable or unavailable


def inventory(
    repository: ModelRepository | Path,
    *,
    url: str | None = None,
    protocol: str = "grpc",
    control_key: str | None = None,
) -> list[InventoryRow]:
    repo = ModelRepository.of(repository)
    index = repo.index.read()
    replicas: dict[str, dict[tuple[str, str], tuple[str, str]]] = {}  # url -> (name, version) -> state
    if url:  # every replica the URL names: each may serve something else (a late or drifted one)
        with open_fleet(url, protocol=protocol, timeout_s=10, control_key=control_key) as fleet:
            for client in fleet:
                entries = client.repository_index()
                replicas[client.url] = {(e.name, e.version): (e.state, e.reason) for e in entries}
    rows = []
    for model in repo.models():
        versions = [str(v) for v in model.versions] or ["-"]
        for version in versions:
            record = index.get(model.name, {}).get(version, {})
            state, reason = _state(replicas, model.name, version) if url else ("-", "")
            rows.append(
                InventoryRow(
                    name=model.name,
                    version=version,
                    model_id=str(record.get("id", "-")),
                    created=str(record.get("created", "-")),
                    weights=_weights(repo, model.name, version),
                    state=state,
                    note=model.problem or reason,
                )
            )
    return rows


def _state(
    replicas: dict[str, dict[tuple[str, str], tuple[str, str]]], name: str, version: str
) -> tuple[str, str]:
    """One replica's state and reason, or MIXED with each replica's when they differ."""
    states = {
        address: served.get((name, version), served.get((name, ""), ("NOT LOADED", "")))
        for address, served in replicas.items()
    }
    if len(set(states.values())) == 1:
        return next(iter(states.values()))
    return "MIXED", "; ".join(f"{address}: {state}" for address, (state, _) in states.items())


def _weights(repo: ModelRepository, name: str, version: str) -> str:
    """The provenance; "-" for a hand-placed model, or a model without versions."""
    provenance = repo.provenance(name, version) if version.isdigit() else None
    return provenance.weights if provenance is not None else "-"
