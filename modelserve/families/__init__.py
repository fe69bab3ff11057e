"""The model families: one registry line each. A family is one folder (``family.py`` says what it
holds); the API's routes, the ``modelserve export`` verbs and the contract reader all come from
this list, so a new family is its folder plus one line here (``docs/design.md`` walks through it).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from modelserve.contracts.model import ContractBase, ContractSet, kind_of
from modelserve.families.family import Family
from modelserve.repository import ModelRepository


def registered(name: str) -> Family:
    """``modelserve.families.<name>``'s ``FAMILY``."""
    family = importlib.import_module(f"{__name__}.{name}").FAMILY
    if not isinstance(family, Family) or family.name != name:
        raise TypeError(f"modelserve.families.{name}.FAMILY must be the Family named {name!r}")
    return family


FAMILIES: tuple[Family, ...] = (
    registered("tabular"),
    registered("vision"),
    registered("detection"),
    registered("text"),
    registered("recommendations"),
)

# Every kind a family serves, and tensor (raw tensors, no route); any other kind is refused.
CONTRACTS = ContractSet((c for f in FAMILIES for c in f.contracts), strict=True)


def family_of(contract: ContractBase) -> Family | None:
    """The family serving ``contract``'s kind; None for raw-tensor models."""
    return next((f for f in FAMILIES if type(contract) in f.contracts), None)


def open_repository(where: ModelRepository | Path | str) -> ModelRepository:
    """A repository whose contracts read as the families' classes (a given one is kept as is)."""
    return ModelRepository.of(where, contracts=CONTRACTS)


__all__ = ["CONTRACTS", "FAMILIES", "Family", "family_of", "kind_of", "open_repository", "registered"]
