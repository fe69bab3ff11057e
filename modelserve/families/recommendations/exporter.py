"""A collaborative + content recommendation engine, fitted here and served as one ONNX graph on Triton.

Fit (numpy/scikit-learn): the user x item rating matrix R from an interactions table, TF-IDF of the
items' descriptions (``TfidfVectorizer(max_features=1000)``), the popular items for cold
start. The graph scores a batch of users given each user's rating row:

- collaborative: cosine similarity of the user's row to every user's row (MatMul over the
  normalised matrix), the 10 most similar other users (TopK), items those users liked (Gather,
  ReduceSum) ranked by how many of them liked it, then by their summed similarity; the user's own
  items removed. Only items some similar user liked are candidates (score > 0).
- content: the user profile is the mean TF-IDF row of the items they liked; cosine to every item;
  own items removed.

The original in-process engine returned ``list(set(...))[:n]`` (an order Python does not
define); this ranking is the deterministic reading of the same algorithm, and ``reference``
computes it in-process for the parity check at export and in the tests. Bookkeeping (id maps, the
user's row, exclusions, cold start, hybrid merge) stays in the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from sklearn.feature_extraction.text import TfidfVectorizer

from modelserve.export.errors import ExportError
from modelserve.export.provenance import trained
from modelserve.families.recommendations.contract import RecommendationsContract
from modelserve.repository import ModelRepository, WrittenVersion
from modelserve.repository.spec import DynamicBatching, InstanceGroup, ModelEntry, TensorConfig

SIMILAR_USERS = 10  # neighbours whose liked items are candidates
MAX_K = 100
MASKED = -1e9
OPSET = 17


@dataclass(frozen=True, kw_only=True)
class Fitted:
    users: list[str]
    items: list[str]
    ratings: np.ndarray  # float32 [users, items]
    tfidf: np.ndarray  # float32 [items, terms], rows L2-normalised (TfidfVectorizer's default)
    popular: list[int]  # item indices by number of positive interactions, then index

    @property
    def k(self) -> int:
        return min(MAX_K, len(self.items))

    @property
    def similar(self) -> int:
        """Neighbours per user: fewer when there are fewer other users (TopK needs that many)."""
        return max(1, min(SIMILAR_USERS, len(self.users) - 1))


def fit(interactions: pd.DataFrame, items: pd.DataFrame) -> Fitted:
    for frame, cols, what in (
        (interactions, ("user_id", "item_id", "rating"), "interactions"),
        (items, ("item_id", "description"), "items"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ExportError(f"{what} table lacks columns {missing}")
    unknown = set(interactions["item_id"].astype(str)) - set(items["item_id"].astype(str))
    if unknown:
        raise ExportError(f"{len(unknown)} interacted items have no description, e.g. {sorted(unknown)[:3]}")
    item_ids = [str(i) for i in items["item_id"]]
    matrix = interactions.assign(item_id=interactions["item_id"].astype(str)).pivot_table(
        index="user_id", columns="item_id", values="rating", fill_value=0, aggfunc="mean"
    )
    matrix = matrix.reindex(columns=item_ids, fill_value=0)
    ratings = matrix.to_numpy(np.float32)
    tfidf = TfidfVectorizer(max_features=1000).fit_transform(items["description"].fillna("")).toarray()
    liked = (ratings > 0).sum(axis=0)
    popular = sorted(range(len(item_ids)), key=lambda i: (-int(liked[i]), i))
    return Fitted(
        users=[str(u) for u in matrix.index],
        items=item_ids,
        ratings=ratings,
        tfidf=tfidf.astype(np.float32),
        popular=popular[: min(MAX_K, len(popular))],
    )


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1), 0).astype(np.float32)


def reference(f: Fitted, rows: np.ndarray, exclude: np.ndarray) -> dict[str, np.ndarray]:
    """The ranking in numpy: what the graph must reproduce (scores and item order)."""
    sims = _normalise(rows) @ _normalise(f.ratings).T - exclude * 1e9
    top = np.argsort(-sims, axis=1, kind="stable")[:, : f.similar]
    top_sims = np.take_along_axis(sims, top, axis=1)
    liked = (f.ratings > 0).astype(np.float32)[top]  # [B, 10, I]
    cf = liked.sum(axis=1) + 1e-3 * (liked * top_sims[..., None]).sum(axis=1)
    own = rows > 0
    cf = np.where(own | (liked.sum(axis=1) == 0), MASKED, cf)
    count = np.maximum(own.sum(axis=1, keepdims=True), 1)
    profile = (own.astype(np.float32) @ f.tfidf) / count
    cb = np.where(own, MASKED, _normalise(profile) @ f.tfidf.T)
    out = {}
    for name, score in (("cf", cf), ("cb", cb)):
        order = np.argsort(-score, axis=1, kind="stable")[:, : f.k]
        out[f"{name}_items"] = order.astype(np.int64)
        out[f"{name}_scores"] = np.take_along_axis(score, order, axis=1).astype(np.float32)
        out[f"{name}_all"] = score.astype(np.float32)  # every item's score, for tie-proof checks
    return out


def build_graph(f: Fitted) -> onnx.ModelProto:
    n_users, n_items = f.ratings.shape
    init = [
        numpy_helper.from_array(_normalise(f.ratings).T.copy(), "users_t"),  # [I, U]
        numpy_helper.from_array((f.ratings > 0).astype(np.float32), "liked"),  # [U, I]
        numpy_helper.from_array(f.tfidf, "tfidf"),  # [I, F]
        numpy_helper.from_array(f.tfidf.T.copy(), "tfidf_t"),  # [F, I]
        numpy_helper.from_array(np.array([f.similar], np.int64), "n_similar"),
        numpy_helper.from_array(np.array([f.k], np.int64), "k"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([-1], np.int64), "axis_last"),
        numpy_helper.from_array(np.array(1e9, np.float32), "big"),
        numpy_helper.from_array(np.array(MASKED, np.float32), "masked"),
        numpy_helper.from_array(np.array(1e-3, np.float32), "eps_tie"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
    ]
    n = helper.make_node
    nodes = [
        # cosine similarity of each user row to every user: normalise, MatMul
        n("LpNormalization", ["ratings"], ["r_norm"], axis=-1, p=2),
        n("MatMul", ["r_norm", "users_t"], ["sims_raw"]),
        n("Mul", ["exclude_user", "big"], ["self_penalty"]),
        n("Sub", ["sims_raw", "self_penalty"], ["sims"]),
        n("TopK", ["sims", "n_similar"], ["top_sims", "top_users"], axis=-1),
        n("Gather", ["liked", "top_users"], ["liked_top"], axis=0),  # [B, 10, I]
        n("ReduceSum", ["liked_top", "axis1"], ["votes"], keepdims=0),
        n("Unsqueeze", ["top_sims", "axis_last"], ["top_sims_3d"]),
        n("Mul", ["liked_top", "top_sims_3d"], ["weighted"]),
        n("ReduceSum", ["weighted", "axis1"], ["sim_sum"], keepdims=0),
        n("Mul", ["sim_sum", "eps_tie"], ["tie"]),
        n("Add", ["votes", "tie"], ["cf_raw"]),
        n("Greater", ["ratings", "zero"], ["own"]),
        n("Equal", ["votes", "zero"], ["unvoted"]),
        n("Or", ["own", "unvoted"], ["cf_drop"]),
        n("Where", ["cf_drop", "masked", "cf_raw"], ["cf"]),
        n("TopK", ["cf", "k"], ["cf_scores", "cf_items"], axis=-1),
        # content: mean TF-IDF of liked items, cosine to every item
        n("Cast", ["own"], ["own_f"], to=TensorProto.FLOAT),
        n("ReduceSum", ["own_f", "axis_last"], ["n_own"], keepdims=1),
        n("Max", ["n_own", "one"], ["n_own_1"]),
        n("MatMul", ["own_f", "tfidf"], ["profile_sum"]),
        n("Div", ["profile_sum", "n_own_1"], ["profile"]),
        n("LpNormalization", ["profile"], ["profile_norm"], axis=-1, p=2),
        n("MatMul", ["profile_norm", "tfidf_t"], ["cb_raw"]),
        n("Where", ["own", "masked", "cb_raw"], ["cb"]),
        n("TopK", ["cb", "k"], ["cb_scores", "cb_items"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "recommendations",
        [
            helper.make_tensor_value_info("ratings", TensorProto.FLOAT, ["batch", n_items]),
            helper.make_tensor_value_info("exclude_user", TensorProto.FLOAT, ["batch", n_users]),
        ],
        [
            helper.make_tensor_value_info(name, dtype, ["batch", f.k])
            for name, dtype in (
                ("cf_items", TensorProto.INT64),
                ("cf_scores", TensorProto.FLOAT),
                ("cb_items", TensorProto.INT64),
                ("cb_scores", TensorProto.FLOAT),
            )
        ],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def check_parity(f: Fitted, model: onnx.ModelProto, users: int = 50) -> float:
    """The graph's rankings equal ``reference`` for real users' rows; max score difference."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    idx = np.arange(min(users, len(f.users)))
    rows = f.ratings[idx]
    exclude = np.zeros((len(idx), len(f.users)), np.float32)
    exclude[np.arange(len(idx)), idx] = 1
    got = dict(
        zip(
            [o.name for o in session.get_outputs()],
            session.run(None, {"ratings": rows, "exclude_user": exclude}),
            strict=True,
        )
    )
    want = reference(f, rows, exclude)
    worst = 0.0
    for name in ("cf", "cb"):
        # Same score sequence, and every item the graph ranked has the score the reference gives
        # it: tie order may differ, nothing else may.
        got_scores, want_scores = got[f"{name}_scores"], want[f"{name}_scores"]
        per_item = np.take_along_axis(want[f"{name}_all"], got[f"{name}_items"], axis=1)
        if not (
            np.allclose(got_scores, want_scores, atol=1e-4) and np.allclose(per_item, got_scores, atol=1e-4)
        ):
            raise ExportError(f"recommendation graph disagrees with the reference ranking ({name})")
        valid = want_scores > MASKED / 2
        worst = max(worst, float(np.abs(got_scores - want_scores)[valid].max(initial=0)))
    return worst


def export_recommendations(
    repository: ModelRepository | Path,
    name: str,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    *,
    data: Sequence[Path] = (),
    version: int | None = None,
) -> WrittenVersion:
    """``data``: the files the tables were read from, whose digests the provenance records."""
    f = fit(interactions, items)
    model = build_graph(f)
    worst = check_parity(f, model)
    n_users, n_items = f.ratings.shape
    entry = ModelEntry(
        name=name,
        max_batch_size=64,
        inputs=(
            TensorConfig(name="ratings", data_type="FP32", dims=(n_items,)),
            TensorConfig(name="exclude_user", data_type="FP32", dims=(n_users,)),
        ),
        outputs=tuple(
            TensorConfig(name=o, data_type=t, dims=(f.k,))
            for o, t in (
                ("cf_items", "INT64"),
                ("cf_scores", "FP32"),
                ("cb_items", "INT64"),
                ("cb_scores", "FP32"),
            )
        ),
        dynamic_batching=DynamicBatching(max_queue_delay_us=100),
        instance_groups=(InstanceGroup(kind="KIND_AUTO", count=1),),
    )
    repo = ModelRepository.of(repository)
    repo.root.mkdir(parents=True, exist_ok=True)
    tmp = repo.root / f".{name}-ratings.npy"
    np.save(tmp, f.ratings)
    try:
        return repo.write_version(
            entry,
            model,
            version=version,
            extra_files={"ratings.npy": tmp},
            contract=RecommendationsContract(
                framework="numpy+scikit-learn",
                provenance=trained(data, source=None if data else "tables given in process"),
                users=tuple(f.users),
                items=tuple(f.items),
                popular=tuple(f.popular),
                similar_users=f.similar,
                parity={"max_abs_diff": worst},
                preprocessing="user id -> rating row and self-exclusion mask; item indices -> ids",
            ),
        )
    finally:
        tmp.unlink(missing_ok=True)


def example_interactions(
    n_users: int = 300, n_items: int = 120, *, groups: int = 6, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated dataset with structure to find: users and items fall in groups; users rate
    mostly items of their group; an item's description uses its group's vocabulary."""
    rng = np.random.default_rng(seed)
    item_group = rng.integers(0, groups, n_items)
    vocab = [[f"g{g}word{w}" for w in range(8)] for g in range(groups)]
    common = [f"common{w}" for w in range(20)]
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n_items)],
            "description": [
                " ".join(list(rng.choice(vocab[g], 4)) + list(rng.choice(common, 3))) for g in item_group
            ],
        }
    )
    rows = []
    for u in range(n_users):
        g = u % groups
        own = np.flatnonzero(item_group == g)
        other = np.flatnonzero(item_group != g)
        picks = list(rng.choice(own, min(len(own), 8), replace=False)) + list(
            rng.choice(other, 2, replace=False)
        )
        rows += [(f"u{u}", f"i{i}", float(rng.integers(3, 6))) for i in picks]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]), items


__all__ = [
    "Fitted",
    "build_graph",
    "check_parity",
    "example_interactions",
    "export_recommendations",
    "fit",
    "reference",
]
