"""Recommendations: collaborative (user similarity) and content (TF-IDF item similarity) scores in
one graph, with cold start and a hybrid merge around it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from modelserve.families.family import Family
from modelserve.families.recommendations.contract import RecommendationsContract
from modelserve.families.recommendations.options import RECOMMENDATIONS

if TYPE_CHECKING:
    from fastapi import APIRouter


def _routers() -> Sequence[APIRouter]:
    from modelserve.families.recommendations import handler

    return (handler.router,)


FAMILY = Family(
    name="recommendations",
    summary="a user id -> ranked items (GET /v1/recommendations/{user_id})",
    contracts=(RecommendationsContract,),
    exports=(RECOMMENDATIONS,),
    routers=_routers,
    monitoring="nothing: a ranking has no single label feedback could confirm (its quality is a "
    "click-through question, outside the prediction store)",
)
