"""A catalogue smaller than the engine's neighbour and ranking counts still exports, checked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelserve.families.recommendations.contract import RecommendationsContract
from modelserve.families.recommendations.exporter import export_recommendations
from tests.helpers import read_contract


def test_three_items_and_two_users_export(tmp_path: Path) -> None:
    ratings = pd.DataFrame(
        {"user_id": ["u1", "u1", "u2"], "item_id": ["i10", "i42", "i10"], "rating": [5, 4, 3]}
    )
    items = pd.DataFrame(
        {
            "item_id": ["i10", "i42", "i77"],
            "description": ["wireless headphones", "bluetooth speaker", "chef knife"],
        }
    )
    written = export_recommendations(tmp_path, "recs", ratings, items)
    contract = read_contract(written.model_path.parent)
    assert isinstance(contract, RecommendationsContract)
    assert contract.similar_users == 1 and len(contract.items) == 3
