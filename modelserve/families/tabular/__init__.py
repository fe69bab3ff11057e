"""Tabular classifiers trained with scikit-learn: records -> feature spec -> class probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelserve.families.family import Family
from modelserve.families.tabular.contract import TabularContract
from modelserve.families.tabular.options import DEMO, TABULAR

if TYPE_CHECKING:
    from fastapi import APIRouter

    from modelserve.serving.catalog import Catalog, Served


def _routers() -> Sequence[APIRouter]:
    from modelserve.families.tabular import compat, handler

    return (handler.router, compat.router)


def _classes(served: Served[Any], catalog: Catalog) -> Sequence[str]:
    return tuple(served.contract.features.classes)


FAMILY = Family(
    name="tabular",
    summary="records -> feature spec -> class probabilities (POST /v1/models/{name}/predict)",
    contracts=(TabularContract,),
    exports=(TABULAR, DEMO),
    routers=_routers,
    monitoring="each record: its encoded features (drift), predicted class and confidence (feedback)",
    feedback_classes=_classes,
)
