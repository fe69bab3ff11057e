"""The recommendations kind: a user id -> ranked items (collaborative and content scores)."""

from __future__ import annotations

from typing import Literal

from modelserve.contracts.model import ContractBase


class RecommendationsContract(ContractBase):
    kind: Literal["recommendations"] = "recommendations"
    users: tuple[str, ...]
    items: tuple[str, ...]
    popular: tuple[int, ...]  # item indices, most rated first (cold start)
    similar_users: int
    ratings_file: str = "ratings.npy"  # the user x item rating matrix, inside the version
