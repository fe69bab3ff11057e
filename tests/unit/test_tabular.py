from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelserve.contracts.tabular import FeatureSpec, FeatureValidationError, FieldSpec
from modelserve.export.errors import ParityError, SourceUnavailableError
from modelserve.export.sklearn_onnx import check_parity, sklearn_to_onnx
from modelserve.export.tabular_data import example_table, infer_spec, load_table
from modelserve.export.tabular_train import build_pipeline, train

SPEC = FeatureSpec(
    fields=(
        FieldSpec(name="age", kind="numeric"),
        FieldSpec(name="category", kind="categorical", categories=("books", "games")),
        FieldSpec(name="created_at", kind="datetime"),
    ),
    target="y",
    classes=("a", "b"),
)


def test_records_encode_in_column_order():
    x = SPEC.encode([{"age": 30, "category": "games", "created_at": "2026-03-04T18:30:00"}])
    assert SPEC.columns == (
        "age",
        "category",
        "created_at.hour",
        "created_at.day_of_week",
        "created_at.month",
    )
    assert x.tolist() == [[30.0, 1.0, 18.0, 2.0, 3.0]]


def test_nulls_and_unknown_categories_encode_to_what_the_graph_handles():
    x = SPEC.encode([{"age": None, "category": "toys", "created_at": None}])
    assert math.isnan(x[0, 0]) and x[0, 1] == -1.0 and all(math.isnan(v) for v in x[0, 2:])


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"category": "books", "created_at": "2026-01-01"}, "age", "missing field 'age'"),
        ({"age": 1, "category": "books", "created_at": "2026-01-01", "zip": 1}, "zip", "unknown field 'zip'"),
        ({"age": "old", "category": "books", "created_at": "2026-01-01"}, "age", "must be a number"),
        ({"age": True, "category": "books", "created_at": "2026-01-01"}, "age", "must be a number"),
        ({"age": 10**400, "category": "books", "created_at": "2026-01-01"}, "age", "finite float64"),
        ({"age": 1, "category": "books", "created_at": "yesterday-ish"}, "created_at", "not a date"),
    ],
)
def test_bad_records_name_the_field(record, field, message):
    with pytest.raises(FeatureValidationError, match=message) as err:
        SPEC.encode([record])
    assert err.value.field == field


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ({"a": 1}, "got an object"),
        (["books"], "got an array"),
        (3, "got a number (3)"),
        (2.5, "got a number (2.5)"),
        (True, "got a boolean"),
    ],
)
def test_a_category_must_be_a_string(value, got):
    record = {"age": 1, "category": value, "created_at": "2026-01-01"}
    with pytest.raises(FeatureValidationError, match="field 'category' must be a string") as err:
        SPEC.encode([record])
    assert err.value.field == "category" and got in str(err.value)


@pytest.mark.parametrize("value", [1_772_650_800, True, {"day": 4}, ["2026-03-04"]])
def test_a_date_must_be_a_string(value):
    # pandas would read 1772650800 as nanoseconds after 1970: a plausible-looking wrong date.
    with pytest.raises(FeatureValidationError, match="'created_at' must be a date/time string") as err:
        SPEC.encode([{"age": 1, "category": "books", "created_at": value}])
    assert err.value.field == "created_at"


def test_missing_categories_and_dates_may_be_null_or_nan_and_booleans_fit_a_boolean_vocabulary():
    spec = FeatureSpec(
        fields=(*SPEC.fields, FieldSpec(name="member", kind="categorical", categories=("False", "True"))),
        target="y",
        classes=("a", "b"),
    )
    base = {"age": 1, "category": "games", "created_at": "2026-03-04T18:30:00"}
    missing = {**base, "category": math.nan, "created_at": None, "member": None}
    x = spec.encode([{**base, "member": True}, missing])
    assert x[0, -1] == 1.0 and x[1, 1] == -1.0 and math.isnan(x[1, 2]) and x[1, -1] == -1.0
    with pytest.raises(FeatureValidationError, match=r"'member' must be a string or a boolean \(a"):
        spec.encode([{**base, "member": 1}])


def test_a_frames_cells_encode_by_their_text_as_in_training():
    # Training encodes pandas' cells: an int in a mixed column, a Timestamp in a parsed date column.
    spec = FeatureSpec(
        fields=(FieldSpec(name="code", kind="categorical", categories=("7", "x")), SPEC.fields[2]),
        target="y",
        classes=("a", "b"),
    )
    record = {"code": 7, "created_at": pd.Timestamp("2026-03-04T18:30:00")}
    assert spec.encode([record], strict=False).tolist() == [[0.0, 18.0, 2.0, 3.0]]
    with pytest.raises(FeatureValidationError, match="'code' must be a string"):
        spec.encode([record])


def test_spec_round_trips_through_its_dict_form():
    assert FeatureSpec.from_dict(SPEC.as_dict()) == SPEC


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_tables_load_from_csv_json_and_parquet(tmp_path, suffix):
    frame = example_table(50)
    path = tmp_path / f"t{suffix}"
    {
        ".csv": lambda: frame.to_csv(path, index=False),
        ".json": lambda: frame.to_json(path),
        ".parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    assert len(load_table(path)) == 50


def test_unsupported_format_and_missing_file_are_named(tmp_path):
    with pytest.raises(SourceUnavailableError, match="unsupported format '.xlsx'"):
        load_table(tmp_path / "t.xlsx")
    with pytest.raises(SourceUnavailableError, match="no such file"):
        load_table(tmp_path / "t.csv")


def test_spec_inference_finds_numeric_categorical_and_datetime_fields():
    spec = infer_spec(example_table(80), "segment")
    kinds = {f.name: f.kind for f in spec.fields}
    assert kinds["user_age"] == "numeric" and kinds["category"] == "categorical"
    assert kinds["created_at"] == "datetime" and spec.classes == ("casual", "engaged")


def test_the_age_activity_interaction_is_part_of_the_pipeline():
    spec = infer_spec(example_table(80), "segment")
    names = [name for name, _, _ in build_pipeline(spec, None).steps[0][1].transformers]
    assert names == ["numeric", "age_x_activity", "categorical"]


def test_training_picks_the_best_weighted_f1_on_a_bundled_data_set():
    wine = load_wine(as_frame=True).frame
    spec = infer_spec(wine, "target")
    result = train(wine, spec, models=("logistic_regression", "random_forest"), test_size=0.3)
    assert set(result.metrics) == {"logistic_regression", "random_forest"}
    assert result.best == max(result.metrics, key=lambda n: result.metrics[n].f1)
    assert result.metrics[result.best].accuracy > 0.8


def test_a_single_class_target_is_refused():
    frame = example_table(40).assign(segment="same")
    with pytest.raises(SourceUnavailableError, match="at least 2 classes"):
        train(frame, infer_spec(frame, "segment"), models=("logistic_regression",))


def test_parity_fails_when_the_onnx_model_is_not_the_source():
    wine = load_wine()
    x = wine.data.astype(np.float64)
    first = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, wine.target)
    other = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1e-3)).fit(x, wine.target)
    with pytest.raises(ParityError, match="max probability difference"):
        check_parity(first, sklearn_to_onnx(other, x.shape[1]), x, atol=1e-6)


def test_a_failed_parity_check_leaves_the_repository_as_it_was(tmp_path, monkeypatch):
    import modelserve.families.tabular.exporter as tabular

    def failing(*_args, **_kwargs):
        raise ParityError("ONNX disagrees with scikit-learn (injected)")

    data = tmp_path / "t.csv"
    example_table(120).to_csv(data, index=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setattr(tabular, "check_parity", failing)
    with pytest.raises(ParityError, match="injected"):
        tabular.export_tabular(repo, "m", data, "segment", models=("logistic_regression",))
    assert list(repo.iterdir()) == []


def test_classifiers_get_exactly_one_instance() -> None:
    """Triton's default on CPU is two instances: two ORT thread pools fighting over a small box."""
    from modelserve.families.tabular.exporter import classifier_entry

    linear = classifier_entry("lr", 4, 2, cpu_only=False).instance_groups
    forest = classifier_entry("rf", 4, 2, cpu_only=True).instance_groups
    assert [(g.kind, g.count) for g in linear] == [("KIND_AUTO", 1)]  # one per GPU on GPU nodes
    assert [(g.kind, g.count) for g in forest] == [("KIND_CPU", 1)]


def test_float32_models_exported_before_float64_inputs_keep_their_limit():
    record = {"age": 1e300, "category": "books", "created_at": "2026-01-01"}
    assert SPEC.encode([record])[0, 0] == 1e300  # a float64 input carries it
    with pytest.raises(FeatureValidationError, match="finite float32") as err:
        SPEC.encode([record], "float32")
    assert err.value.field == "age"
    assert SPEC.encode([{**record, "age": 2.5}], "float32").dtype == np.float32


NUMERIC = FeatureSpec(
    fields=(FieldSpec(name="a", kind="numeric"), FieldSpec(name="b", kind="numeric")),
    target="y",
    classes=("n", "p"),
)


def test_all_numeric_records_encode_in_one_step_to_the_same_matrix():
    records: list[dict[str, Any]] = [
        {"a": 1, "b": 2.5},
        {"b": -3.0, "a": float("nan"), "y": "p"},
        {"a": 10**300, "b": 0},
    ]
    fast = NUMERIC.encode(records)
    careful = np.array([[1.0, 2.5], [math.nan, -3.0], [1e300, 0.0]])
    np.testing.assert_array_equal(fast, careful)
    assert NUMERIC.encode(records[:2], "float32").dtype == np.float32


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"a": 1}, "missing field 'b'"),
        ({"a": 1, "b": 2, "c": 3}, "unknown field 'c'"),
        ({"a": True, "b": 2}, "'a' must be a number"),
        ({"a": "1", "b": 2}, "'a' must be a number"),
        ({"a": float("inf"), "b": 2}, "'a' must be a finite float64 number"),
        ({"a": 10**400, "b": 2}, "'a' must be a finite float64 number, got an integer of 401 digits"),
    ],
)
def test_all_numeric_records_still_name_what_is_wrong(record, message):
    with pytest.raises(FeatureValidationError, match=message):
        NUMERIC.encode([{"a": 0, "b": 0}, record])
    assert NUMERIC.encode([{"a": None, "b": 1}]).tolist()[0][1] == 1.0  # null: the careful path


def test_the_parity_threshold_is_a_setting_and_a_refusal_names_the_rows(tmp_path):
    from modelserve.families.tabular.exporter import export_tabular

    data = tmp_path / "t.csv"
    example_table(120).to_csv(data, index=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    # float32 probabilities differ from scikit-learn's float64 ones by ~1e-7: zero tolerance refuses.
    with pytest.raises(ParityError, match=r"worst rows \d+ \(.*training, then held-out") as err:
        export_tabular(repo, "m", data, "segment", models=("random_forest",), parity_atol=0.0)
    assert "allowed 0" in str(err.value)
    assert list(repo.iterdir()) == []
    _, written = export_tabular(repo, "m", data, "segment", models=("random_forest",))
    assert written.version == 1


def test_an_existing_version_is_refused_before_the_table_is_read(tmp_path):
    """Versions are never rewritten; the CLI says so before it loads and trains (minutes, at times)."""
    from typer.testing import CliRunner

    from modelserve.cli.export import app as export_app
    from modelserve.repository import ModelEntry, ModelRepository, TensorConfig
    from tests.helpers import scale_model

    entry = ModelEntry(
        name="m",
        max_batch_size=8,
        inputs=(TensorConfig(name="x", data_type="FP32", dims=(4,)),),
        outputs=(TensorConfig(name="y", data_type="FP32", dims=(4,)),),
    )
    ModelRepository(tmp_path / "repo").write_version(entry, scale_model(2.0))
    argv = ["tabular", str(tmp_path / "absent.csv"), "-t", "y", "-n", "m", "--version", "1"]
    result = CliRunner().invoke(export_app, [*argv, "-r", str(tmp_path / "repo")])
    assert result.exit_code == 1
    assert "error: model 'm' v1 already exists" in result.output and "--version 2" in result.output
    assert "no such file" not in result.output
