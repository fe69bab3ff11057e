"""``GET /v1/recommendations/{user_id}?k=&strategy=collaborative|content|hybrid&model=``.

Triton scores (the exported graph: similarity MatMul + TopK over the catalogue); this route does
the bookkeeping: the user's id -> their rating row and self-exclusion mask, item indices -> ids,
cold start for unknown users (the most popular items, said as such), and the hybrid merge
(collaborative and content rankings interleaved, duplicates dropped).
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Literal

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from modelserve.api.catalog import Book
from modelserve.api.errors import UnprocessableError
from modelserve.api.services import Svc
from modelserve.api.weights import Weights, stamp
from modelserve.contracts.model import RecommendationsContract

router = APIRouter()

MASKED = -1e9  # the graph's score for "not a candidate"
Strategy = Literal["collaborative", "content", "hybrid"]


class Recommendation(BaseModel):
    item_id: str
    # collaborative/content: cosine similarity of the graph; popular (cold start): the share of
    # users who rated the item positively, 0-1
    score: float
    source: Literal["collaborative", "content", "popular"]


class RecommendationsResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    user_id: str
    strategy: str
    cold_start: bool
    items: list[Recommendation]


def _ranked(items: np.ndarray, scores: np.ndarray, source: str, book: Book) -> list[Recommendation]:
    return [
        Recommendation(item_id=book.items[int(i)], score=float(s), source=source)  # type: ignore[arg-type]
        for i, s in zip(items, scores, strict=True)
        if s > MASKED / 2
    ]


def _interleave(a: list[Recommendation], b: list[Recommendation], k: int) -> list[Recommendation]:
    out: list[Recommendation] = []
    seen: set[str] = set()
    for pair in zip_longest(a, b):
        for rec in pair:
            if rec is not None and rec.item_id not in seen:
                seen.add(rec.item_id)
                out.append(rec)
    return out[:k]


@router.get(
    "/v1/recommendations/{user_id}", response_model=RecommendationsResponse, summary="Items for a user"
)
async def recommend(
    request: Request,
    response: Response,
    svc: Svc,
    user_id: str,
    k: int = Query(10, ge=1, le=100),
    strategy: Strategy = Query("hybrid"),
    model: str = Query("recommendations", min_length=1, max_length=128),
) -> RecommendationsResponse:
    served = await svc.catalog.served(model, RecommendationsContract)
    weights = stamp(response, served)
    book = svc.catalog.book(served)
    if k > len(book.items) or k > 100:
        raise UnprocessableError(f"k={k}: the model ranks at most {min(len(book.items), 100)} items")
    row = book.users.get(user_id)
    if row is None:
        items = [
            Recommendation(item_id=book.items[i], score=float(book.liked_share[i]), source="popular")
            for i in book.popular[:k]
        ]
        return RecommendationsResponse(
            model=model,
            version=served.version,
            weights=weights,
            user_id=user_id,
            strategy="popular",
            cold_start=True,
            items=items,
        )
    exclude = np.zeros((1, len(book.users)), np.float32)
    exclude[0, row] = 1.0
    out = await svc.gateway.infer(
        request,
        model,
        {"ratings": book.ratings[row : row + 1], "exclude_user": exclude},
        version=served.version,
        coalesce=True,
    )
    cf = _ranked(out["cf_items"][0], out["cf_scores"][0], "collaborative", book)
    cb = _ranked(out["cb_items"][0], out["cb_scores"][0], "content", book)
    chosen = {"collaborative": cf[:k], "content": cb[:k], "hybrid": _interleave(cf, cb, k)}[strategy]
    return RecommendationsResponse(
        model=model,
        version=served.version,
        weights=weights,
        user_id=user_id,
        strategy=strategy,
        cold_start=False,
        items=chosen,
    )
