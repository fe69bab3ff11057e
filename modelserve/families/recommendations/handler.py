"""``GET /v1/recommendations/{user_id}?k=&strategy=collaborative|content|hybrid&model=``.

Triton scores (the exported graph: similarity MatMul + TopK over the catalogue); this route does
the bookkeeping: the user's id -> their rating row and self-exclusion mask, item indices -> ids,
cold start for unknown users (the most popular items, said as such), and the hybrid merge
(collaborative and content rankings interleaved, duplicates dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Literal

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from modelserve.families.recommendations.contract import RecommendationsContract
from modelserve.serving.call import Call, ModelAnswer
from modelserve.serving.errors import UnavailableError, UnprocessableError
from modelserve.serving.services import Svc

router = APIRouter()

MASKED = -1e9  # the graph's score for "not a candidate"
Strategy = Literal["collaborative", "content", "hybrid"]


class Recommendation(BaseModel):
    item_id: str
    # collaborative/content: cosine similarity of the graph; popular (cold start): the share of
    # users who rated the item positively, 0-1
    score: float
    source: Literal["collaborative", "content", "popular"]


class RecommendationsResponse(ModelAnswer):
    user_id: str
    strategy: str
    cold_start: bool
    items: list[Recommendation]


@dataclass(frozen=True)
class Book:
    """A version's bookkeeping: id maps and the rating matrix (travels with the version)."""

    users: dict[str, int]
    items: tuple[str, ...]
    popular: tuple[int, ...]
    ratings: np.ndarray
    liked_share: np.ndarray  # per item: users who rated it positively / all users


def load_book(version_dir: Path, contract: RecommendationsContract) -> Book:
    path = version_dir / contract.ratings_file
    if not path.is_file():
        raise UnavailableError(f"model '{contract.name}' v{contract.version} has no {contract.ratings_file}")
    ratings = np.load(path, allow_pickle=False).astype(np.float32)
    return Book(
        users={u: i for i, u in enumerate(contract.users)},
        items=contract.items,
        popular=contract.popular,
        ratings=ratings,
        # What the popular ranking ranks by: the share of users who rated the item positively.
        liked_share=(ratings > 0).mean(axis=0) if len(ratings) else np.zeros(len(contract.items)),
    )


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
    call = await Call.open(svc, request, response, model, RecommendationsContract)
    book = svc.catalog.asset(call.served, "book", load_book)
    if k > len(book.items) or k > 100:
        raise UnprocessableError(f"k={k}: the model ranks at most {min(len(book.items), 100)} items")
    row = book.users.get(user_id)
    if row is None:
        items = [
            Recommendation(item_id=book.items[i], score=float(book.liked_share[i]), source="popular")
            for i in book.popular[:k]
        ]
        return call.answer(
            RecommendationsResponse, user_id=user_id, strategy="popular", cold_start=True, items=items
        )
    exclude = np.zeros((1, len(book.users)), np.float32)
    exclude[0, row] = 1.0
    feed = {"ratings": book.ratings[row : row + 1], "exclude_user": exclude}
    out = await call.infer(feed, coalesce=True)
    book = svc.catalog.asset(call.served, "book", load_book)  # the answering version's item ids
    cf = _ranked(out["cf_items"][0], out["cf_scores"][0], "collaborative", book)
    cb = _ranked(out["cb_items"][0], out["cb_scores"][0], "content", book)
    chosen = {"collaborative": cf[:k], "content": cb[:k], "hybrid": _interleave(cf, cb, k)}[strategy]
    return call.answer(
        RecommendationsResponse, user_id=user_id, strategy=strategy, cold_start=False, items=chosen
    )
