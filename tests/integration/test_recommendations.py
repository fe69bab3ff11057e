"""Recommendations served by Triton through the API equal the reference algorithm computed in-process;
cold start; bad requests; precision@k on held-out interactions of a generated dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.families.recommendations.exporter import (
    MASKED,
    example_interactions,
    export_recommendations,
    fit,
    reference,
)
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration

K = 10


def _held_out(inter: pd.DataFrame, seed: int = 1) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """Per user, two liked items move to a held-out set (fixed seed)."""
    rng = np.random.default_rng(seed)
    keep, held = [], {}
    for user, group in inter.groupby("user_id"):
        hide = set(rng.choice(group["item_id"].to_numpy(), 2, replace=False))
        held[str(user)] = {str(i) for i in hide}
        keep.append(group[~group["item_id"].isin(hide)])
    return pd.concat(keep), held


@pytest.fixture(scope="module")
def served(server: Any, repository: Any) -> tuple[Path, Any, pd.DataFrame, dict[str, set[str]]]:
    root, _ = repository
    inter, items = example_interactions(seed=3)
    train, held = _held_out(inter)
    export_recommendations(root, "recs", train, items)
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("recs")
    return root, fit(train, items), train, held


def _api(server: Any, root: Path) -> TestClient:
    return TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root)))


def test_served_rankings_equal_the_reference_algorithm_in_process(server: Any, served: Any) -> None:
    root, f, _, _ = served
    users = f.users[:40]
    with _api(server, root) as api:
        for n, user in enumerate(users):
            row = f.ratings[n : n + 1]
            exclude = np.zeros((1, len(f.users)), np.float32)
            exclude[0, n] = 1
            want = reference(f, row, exclude)
            for strategy, key in (("collaborative", "cf"), ("content", "cb")):
                resp = api.get(
                    f"/v1/recommendations/{user}", params={"k": K, "strategy": strategy, "model": "recs"}
                )
                assert resp.status_code == 200, resp.text
                body = resp.json()
                assert body["cold_start"] is False and body["strategy"] == strategy
                got = body["items"]
                valid = want[f"{key}_scores"][0] > MASKED / 2
                want_scores = want[f"{key}_scores"][0][valid][:K]
                assert [g["source"] for g in got] == [strategy] * len(got)
                assert len(got) == len(want_scores)
                # Same score sequence, and each item served has the score the reference algorithm
                # gives it (tie order is free, nothing else is).
                np.testing.assert_allclose([g["score"] for g in got], want_scores, atol=1e-4)
                index = {item: n for n, item in enumerate(f.items)}
                per_item = [want[f"{key}_all"][0][index[g["item_id"]]] for g in got]
                np.testing.assert_allclose(per_item, [g["score"] for g in got], atol=1e-4)
                liked = {f.items[i] for i in np.flatnonzero(row[0] > 0)}
                assert not liked & {g["item_id"] for g in got}  # never the user's own items


def test_hybrid_interleaves_without_duplicates_and_unknown_users_get_popular_items(
    server: Any, served: Any
) -> None:
    root, f, _, _ = served
    user = f.users[5]
    with _api(server, root) as api:
        cf = api.get(
            f"/v1/recommendations/{user}", params={"k": K, "strategy": "collaborative", "model": "recs"}
        ).json()
        cb = api.get(
            f"/v1/recommendations/{user}", params={"k": K, "strategy": "content", "model": "recs"}
        ).json()
        hybrid = api.get(f"/v1/recommendations/{user}", params={"k": K, "model": "recs"}).json()
        cold = api.get("/v1/recommendations/nobody", params={"k": 5, "model": "recs"}).json()
    ids = [r["item_id"] for r in hybrid["items"]]
    assert len(ids) == len(set(ids)) == K
    assert ids[0] == cf["items"][0]["item_id"]
    assert set(ids) <= {r["item_id"] for r in cf["items"]} | {r["item_id"] for r in cb["items"]}
    assert cold["cold_start"] is True and cold["strategy"] == "popular"
    assert [r["item_id"] for r in cold["items"]] == [f.items[i] for i in f.popular[:5]]
    liked = (f.ratings > 0).mean(axis=0)  # cold-start scores are the popularity they rank by
    assert [r["score"] for r in cold["items"]] == pytest.approx([float(liked[i]) for i in f.popular[:5]])
    assert cold["items"][0]["score"] > 0 and all(r["source"] == "popular" for r in cold["items"])


def test_bad_requests_are_named(server: Any, served: Any) -> None:
    root, *_ = served
    with _api(server, root) as api:
        assert api.get("/v1/recommendations/u1", params={"k": 0, "model": "recs"}).status_code == 422
        bad = api.get("/v1/recommendations/u1", params={"strategy": "magic", "model": "recs"})
        assert bad.status_code == 422
        assert api.get("/v1/recommendations/u1", params={"model": "no_such_model"}).status_code == 404


def test_precision_at_k_on_held_out_interactions(server: Any, served: Any) -> None:
    root, f, _, held = served
    users = f.users[:120]
    precision: dict[str, float] = {}
    with _api(server, root) as api:
        for strategy in ("collaborative", "content", "hybrid"):
            hits = []
            for user in users:
                body = api.get(
                    f"/v1/recommendations/{user}", params={"k": K, "strategy": strategy, "model": "recs"}
                ).json()
                hits.append(len({r["item_id"] for r in body["items"]} & held[user]) / K)
            precision[strategy] = float(np.mean(hits))
    chance = 2 / len(f.items)  # two held-out items among the catalogue
    print(f"precision@{K} over {len(users)} users: {precision} (chance {chance:.3f})")
    for strategy, p in precision.items():
        assert p > 3 * chance, (strategy, p)


def test_cli_exports_and_names_bad_tables(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modelserve.cli.app import app

    inter, items = example_interactions(n_users=40, n_items=30)
    inter.to_csv(tmp_path / "i.csv", index=False)
    items.to_csv(tmp_path / "it.csv", index=False)
    args = [
        "export",
        "recommendations",
        "--interactions",
        str(tmp_path / "i.csv"),
        "-r",
        str(tmp_path / "repo"),
    ]
    ok = CliRunner().invoke(app, [*args, "--items", str(tmp_path / "it.csv")])
    assert ok.exit_code == 0 and "exported recommendations v1" in ok.output
    items.drop(columns=["description"]).to_csv(tmp_path / "bad.csv", index=False)
    bad = CliRunner().invoke(app, [*args, "--items", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 1 and "lacks columns ['description']" in bad.output
