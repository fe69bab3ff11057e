"""Cleaning a training table: each step an option with a stated default, and a report of what it
did (testers found 800 rows become 740 with no word said: 1.5 IQR outliers, mean-filled NaN and
dropped duplicates, none of it an option)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from modelserve.cli.export import app as export_app
from modelserve.export.tabular_clean import CleaningOptions, MissingValuesError, clean
from modelserve.export.tabular_data import example_table
from modelserve.families.tabular.options import TabularOptions

FORMER = CleaningOptions(outliers="iqr", iqr_factor=1.5, missing="mean", duplicates="drop")


def _table() -> pd.DataFrame:
    """10 rows: one duplicate (the first, again), one missing number, one far outlier, one unlabeled."""
    frame = pd.DataFrame(
        {
            "v": [1.0, 2.0, 2.0, 3.0, None, 2.5, 1000.0, 2.2, 1.8],
            "c": list("xyxyxyxyx"),
            "y": [*"abbabaab", None],
        }
    )
    return pd.concat([frame, frame.iloc[[0]]], ignore_index=True)


def _step(report, name):
    return next(s for s in report.steps if s.step == name)


def test_by_default_only_unlabeled_rows_go_and_every_step_is_reported():
    cleaned, report = clean(_table(), "y")
    assert (report.rows_in, report.rows_out, len(cleaned)) == (10, 9, 9)
    assert _step(report, "missing target").rows_dropped == 1
    assert (
        _step(report, "duplicates").rows_dropped == 0
        and "1 duplicate rows kept" in _step(report, "duplicates").why
    )
    assert cleaned["v"].isna().sum() == 1  # left for the graph's imputer, as a null at serving is
    assert _step(report, "missing values").columns == {"v": 1}
    assert 1000.0 in cleaned["v"].tolist() and _step(report, "outliers").rows_dropped == 0


def test_the_former_cleaning_is_reachable_and_says_what_it_dropped_and_why():
    cleaned, report = clean(_table(), "y", options=FORMER)
    assert (report.rows_in, report.rows_out) == (10, 6)
    # target, duplicates, missing (filled, not dropped), outliers: 1000 and the mean it pulled up to
    # ~145 that filled the missing value
    assert [s.rows_dropped for s in report.steps] == [1, 1, 0, 2]
    assert _step(report, "missing values").values_filled == 1 and cleaned["v"].notna().all()
    assert _step(report, "outliers").columns == {"v": 2} and cleaned["v"].max() == 3.0
    assert "2 rows dropped outside Q1 - 1.5 IQR .. Q3 + 1.5 IQR" in _step(report, "outliers").why
    assert report.lines()[0] == (
        "cleaning: 10 rows in, 6 out (--outliers iqr x1.5, --missing mean, --duplicates drop)"
    )


def test_missing_values_can_drop_their_rows_or_refuse_the_table_naming_the_columns():
    cleaned, report = clean(_table(), "y", options=CleaningOptions(missing="drop"))
    assert cleaned["v"].notna().all() and _step(report, "missing values").rows_dropped == 1
    with pytest.raises(MissingValuesError, match=r"1 missing values in feature columns \{'v': 1\}"):
        clean(_table(), "y", options=CleaningOptions(missing="error"))


def test_an_iqr_rule_that_would_drop_most_rows_is_not_applied_and_says_so():
    # Each column's IQR is 0: rows 0-3 are outliers in a, rows 4-7 in b, 8 of 10 in all.
    a = [100.0, 100.0, -100.0, -100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    frame = pd.DataFrame({"a": a, "b": a[4:8] + a[:4] + a[8:], "y": list("ababababab")})
    cleaned, report = clean(frame, "y", options=CleaningOptions(outliers="iqr"))
    assert len(cleaned) == 10 and _step(report, "outliers").rows_dropped == 0
    assert _step(report, "outliers").why.startswith("not applied: 8 of 10 rows")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"outliers": "zscore"}, r"--outliers 'zscore': choose none \| iqr"),
        ({"missing": "median"}, r"--missing 'median': choose model \| mean \| drop \| error"),
        ({"duplicates": "merge"}, r"--duplicates 'merge': choose keep \| drop"),
    ],
)
def test_a_bad_cleaning_choice_is_refused_before_any_data_is_read(option, message):
    with pytest.raises(ValueError, match=message):
        TabularOptions(name="m", data=Path("/nowhere/t.csv"), target="y", **option)


def test_the_export_prints_its_cleaning_and_stores_it_in_the_contract(tmp_path):
    data = tmp_path / "events.csv"
    example_table(200, seed=1).to_csv(data, index=False)
    argv = [
        "tabular",
        str(data),
        "-t",
        "segment",
        "-n",
        "seg",
        "--drop",
        "user_id",
        "-m",
        "logistic_regression",
    ]
    argv += ["-r", str(tmp_path / "repo"), "--outliers", "iqr", "--missing", "mean"]
    result = CliRunner().invoke(export_app, argv)
    assert result.exit_code == 0, result.output
    contract = json.loads((tmp_path / "repo" / "seg" / "1" / "modelserve.json").read_text())
    cleaning = contract["cleaning"]
    assert cleaning["options"] == {
        "outliers": "iqr",
        "iqr_factor": 1.5,
        "missing": "mean",
        "duplicates": "keep",
    }
    assert cleaning["rows_in"] == 200 > cleaning["rows_out"]
    dropped = sum(s["rows_dropped"] for s in cleaning["steps"])
    assert cleaning["rows_in"] - cleaning["rows_out"] == dropped
    assert f"cleaning: 200 rows in, {cleaning['rows_out']} out (--outliers iqr x1.5" in result.output
    assert f"  outliers: {dropped} rows dropped outside Q1 - 1.5 IQR" in result.output
