"""A model family as one unit: the kinds of contract it writes and serves, its export verbs, its API
routes, and what monitoring records of its predictions.

Everything of a family lives in its folder (``modelserve/families/<name>/``): ``contract.py``,
``options.py`` and ``exporter.py`` (the export), ``handler.py`` (pre- and post-processing, response
models, routes), ``__init__.py`` (its ``FAMILY``). The registry (``modelserve.families``) names each
family on one line; the API, the CLI and the repository reader take everything else from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelserve.contracts.model import ContractBase, kind_of
from modelserve.export.verb import ExportVerb

if TYPE_CHECKING:
    from fastapi import APIRouter

    from modelserve.serving.catalog import Catalog, Served


@dataclass(frozen=True, kw_only=True)
class Family:
    """``routers``: called once by the API (so exporting never imports the serving stack).
    ``feedback_classes``: the labels feedback may give one of the family's predictions (empty: any
    label); None when the family records nothing for monitoring, ``monitoring`` says why.
    ``warm``: start-up work the API runs in a thread beside serving (a lexicon to load)."""

    name: str
    summary: str
    contracts: tuple[type[ContractBase], ...]
    exports: tuple[ExportVerb[Any], ...] = ()
    routers: Callable[[], Sequence[APIRouter]] = field(default=lambda: (), repr=False)
    monitoring: str
    feedback_classes: Callable[[Served[Any], Catalog], Sequence[str]] | None = field(default=None, repr=False)
    warm: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind_of(c) for c in self.contracts)


__all__ = ["Family"]
