"""What a repository holds and what a server serves, side by side (``modelserve models list``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client import TritonClient
from contracts.model import ContractError, read_contract
from export.repository import list_models
from export.versioning import read_index


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
    repository: Path, *, url: str | None = None, protocol: str = "grpc", control_key: str | None = None
) -> list[InventoryRow]:
    index = read_index(repository)
    served: dict[tuple[str, str], tuple[str, str]] = {}
    if url:
        with TritonClient(url, protocol=protocol, timeout_s=10, control_key=control_key) as client:
            for e in client.repository_index():
                served[(e.name, e.version)] = (e.state, e.reason)
    rows = []
    for model in list_models(repository):
        versions = [str(v) for v in model.versions] or ["-"]
        for version in versions:
            record = index.get(model.name, {}).get(version, {})
            state, reason = served.get((model.name, version), served.get((model.name, ""), ("-", "")))
            if url and (model.name, version) not in served and (model.name, "") not in served:
                state = "NOT LOADED"
            rows.append(
                InventoryRow(
                    name=model.name,
                    version=version,
                    model_id=str(record.get("id", "-")),
                    created=str(record.get("created", "-")),
                    weights=_weights(repository / model.name / version),
                    state=state,
                    note=model.problem or reason,
                )
            )
    return rows


def _weights(version_dir: Path) -> str:
    try:
        return read_contract(version_dir).provenance.weights
    except ContractError:  # a hand-placed model, or a version directory that is not there ("-")
        return "-"
