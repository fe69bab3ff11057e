"""The random-weights warning, said where a user may take such a model's answers for real ones:
at export and once per model when a server or the API starts (``ModelRepository.random_warnings``)."""

from __future__ import annotations

from collections.abc import Sequence

from modelserve.contracts.provenance import RANDOM_WARNING


def random_warning(name: str, versions: Sequence[int]) -> str:
    """``model 'm' v1, v2: weights are random: answers mean nothing; for tests and demos``."""
    return f"model '{name}' {', '.join(f'v{v}' for v in versions)}: {RANDOM_WARNING}"


__all__ = ["random_warning"]
