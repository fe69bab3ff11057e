"""Drift tests on fixed seeds: data from the training distribution is not flagged, injected drift
is, at the 0.05 level; each column gets the test its kind calls for."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.export.tabular_data import example_table, infer_spec
from modelserve.monitor.drift import detect


def _seed_like(rows: int, seed: int) -> tuple[FeatureSpec, np.ndarray]:
    frame = example_table(rows, seed=seed).drop(columns=["user_id"])
    spec = infer_spec(example_table(600, seed=0).drop(columns=["user_id"]), "segment")
    return spec, spec.encode(frame.to_dict("records"))


def test_undrifted_example_window_is_not_flagged() -> None:
    spec, reference = _seed_like(2000, seed=0)
    _, live = _seed_like(500, seed=1)
    report = detect(reference, live, spec)
    assert not report.drifted, report.drifted_columns
    tests = {c.column: c.test for c in report.columns}
    assert tests["category"] == "chi2" and tests["user_activity"] == "ks" and tests["created_at.hour"] == "ks"
    assert all(c.p_value is not None and c.p_value > report.column_level for c in report.columns)


def test_shifted_numeric_column_is_flagged_and_only_it() -> None:
    spec, reference = _seed_like(2000, seed=0)
    _, live = _seed_like(500, seed=1)
    live[:, spec.column_index("user_activity")] *= 1.5
    report = detect(reference, live, spec)
    assert report.drifted and report.drifted_columns == ["user_activity"]
    column = next(c for c in report.columns if c.column == "user_activity")
    assert column.p_value is not None and column.p_value < 1e-6
    assert column.summary["live_mean"] > column.summary["reference_mean"] * 1.3


def test_changed_category_mix_is_flagged_by_chi_square() -> None:
    spec, reference = _seed_like(2000, seed=0)
    frame = example_table(500, seed=1).drop(columns=["user_id"])
    rng = np.random.default_rng(7)
    frame["category"] = rng.choice(["books", "games", "music", "sports"], len(frame), p=[0.1, 0.2, 0.3, 0.4])
    live = spec.encode(frame.to_dict("records"))
    report = detect(reference, live, spec)
    assert report.drifted_columns == ["category"]
    column = next(c for c in report.columns if c.column == "category")
    assert column.test == "chi2" and column.p_value is not None and column.p_value < 1e-10
    assert column.summary["shares (reference, live)"]["sports"][1] > 0.3


def test_unseen_categories_count_as_their_own_bucket() -> None:
    spec, reference = _seed_like(2000, seed=0)
    frame = example_table(500, seed=1).drop(columns=["user_id"])
    frame.loc[: len(frame) // 2, "category"] = "podcasts"  # not in the training vocabulary
    report = detect(reference, spec.encode(frame.to_dict("records")), spec)
    assert "category" in report.drifted_columns
    column = next(c for c in report.columns if c.column == "category")
    assert "<unknown>" in column.summary["shares (reference, live)"]


def _cancer() -> tuple[FeatureSpec, np.ndarray, np.ndarray]:
    data = load_breast_cancer()
    x_train, x_test = train_test_split(data.data, test_size=0.3, random_state=0, stratify=data.target)
    spec = FeatureSpec(
        fields=tuple(FieldSpec(name=str(n), kind="numeric") for n in data.feature_names),
        target="t",
        classes=("malignant", "benign"),
    )
    return spec, x_train, x_test


def test_held_out_rows_of_the_same_data_are_not_flagged_on_30_columns() -> None:
    spec, x_train, x_test = _cancer()
    assert not detect(x_train, x_test, spec).drifted


def test_bonferroni_vs_a_per_column_rule() -> None:
    """Windows drawn from the reference distribution itself, 30 independent columns: the uncorrected
    rule (any column under 0.05) flags most of them (1 - 0.95**30 = 79% expected); the
    family-wise 0.05 level about 5%."""
    spec = FeatureSpec(
        fields=tuple(FieldSpec(name=f"x{i}", kind="numeric") for i in range(30)),
        target="t",
        classes=("a", "b"),
    )
    rng = np.random.default_rng(1)
    flagged = {"bonferroni": 0, "none": 0}
    for _ in range(60):
        reference, live = rng.normal(size=(1000, 30)), rng.normal(size=(200, 30))
        flagged["bonferroni"] += detect(reference, live, spec).drifted
        flagged["none"] += detect(reference, live, spec, correction="none").drifted
    assert flagged["bonferroni"] <= 7
    assert flagged["none"] >= 35


def test_a_small_shift_in_one_of_30_columns_is_found() -> None:
    spec, x_train, x_test = _cancer()
    live = x_test.copy()
    col = spec.column_index("mean radius")
    live[:, col] += 0.75 * x_train[:, col].std()
    report = detect(x_train, live, spec)
    assert "mean radius" in report.drifted_columns


def test_columns_with_too_few_values_are_skipped_not_flagged() -> None:
    spec, reference = _seed_like(2000, seed=0)
    _, live = _seed_like(500, seed=1)
    live[:, spec.column_index("user_age")] = np.nan
    column = next(c for c in detect(reference, live, spec).columns if c.column == "user_age")
    assert column.test == "skipped" and not column.drifted and column.live_n == 0


def test_shapes_are_checked() -> None:
    spec, reference = _seed_like(100, seed=0)
    with pytest.raises(ValueError, match="live sample"):
        detect(reference, reference[:, :3], spec)
