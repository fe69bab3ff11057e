"""The random-weights warning, said where a user may take such a model's answers for real ones:
at export (``export.repository``) and once per model when a server or the API starts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from modelserve.contracts.model import ContractError, read_contract
from modelserve.contracts.provenance import RANDOM_WARNING


def random_warning(name: str, versions: Sequence[int]) -> str:
    """``model 'm' v1, v2: weights are random: answers mean nothing; for tests and demos``."""
    return f"model '{name}' {', '.join(f'v{v}' for v in versions)}: {RANDOM_WARNING}"


def random_versions(repository: Path) -> dict[str, tuple[int, ...]]:
    """Each model of the repository with versions exported with random weights, and those versions.
    Versions without a readable contract are skipped: the API reports them on their own."""
    found: dict[str, tuple[int, ...]] = {}
    if not repository.is_dir():
        return found
    for model_dir in sorted(p for p in repository.iterdir() if p.is_dir() and not p.name.startswith(".")):
        versions = sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())
        random = []
        for version in versions:
            try:
                if read_contract(model_dir / str(version)).provenance.random:
                    random.append(version)
            except ContractError:
                continue
        if random:
            found[model_dir.name] = tuple(random)
    return found


def warn_random_models(repository: Path, log: logging.Logger) -> list[str]:
    """Log one warning per model with random-weight versions; returns the lines logged."""
    lines = [random_warning(name, versions) for name, versions in random_versions(repository).items()]
    for line in lines:
        log.warning("%s", line)
    return lines


__all__ = ["random_versions", "random_warning", "warn_random_models"]
