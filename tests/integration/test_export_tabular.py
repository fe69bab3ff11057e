"""Tabular family: export through the library and the CLI, serve, compare with scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from tritonclient.grpc import model_config_pb2 as mc
from typer.testing import CliRunner

from modelserve.cli.export import app as export_app
from modelserve.client import TritonClient
from modelserve.export.tabular_clean import clean
from modelserve.export.tabular_data import example_table, infer_spec
from modelserve.export.tabular_train import train
from modelserve.families.tabular.contract import TabularContract
from modelserve.families.tabular.exporter import export_tabular
from modelserve.repository import ModelRepository
from tests.helpers import read_contract

pytestmark = pytest.mark.integration


def test_example_table_export_serves_the_same_answers_as_the_sklearn_pipeline(server, repository, tmp_path):
    root, _ = repository
    data = tmp_path / "events.csv"
    example_table(500, seed=3).to_csv(data, index=False)
    result, written = export_tabular(root, "segments", data, "segment", drop=["user_id"])
    x = result.x_test
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("segments")
        out = client.infer("segments", {"features": x.astype(np.float64)})
    np.testing.assert_allclose(out["probabilities"], result.pipeline.predict_proba(x), atol=1e-4)
    assert (out["label"].reshape(-1) == result.pipeline.predict(x)).mean() >= 0.99
    meta = read_contract(written.model_dir / str(written.version))
    assert isinstance(meta, TabularContract)
    assert meta.model == result.best and meta.features.target == "segment"
    assert ModelRepository(root).index.read()["segments"][str(written.version)]["id"] == written.model_id


def test_cli_export_of_a_bundled_data_set_is_served(server, repository, tmp_path):
    root, _ = repository
    frame = load_breast_cancer(as_frame=True).frame
    data = tmp_path / "cancer.parquet"
    frame.to_parquet(data)
    result = CliRunner().invoke(
        export_app,
        ["tabular", str(data), "-t", "target", "-n", "cancer_cli", "-r", str(root), "-m", "random_forest"],
    )
    assert result.exit_code == 0, result.output
    assert "exported cancer_cli v1" in result.output
    meta = json.loads((root / "cancer_cli" / "1" / "modelserve.json").read_text())
    # The export is deterministic (fixed seeds): train the same pipeline here for scikit-learn's answer.
    cleaned, _ = clean(frame, "target")  # the CLI's default cleaning
    trained = train(cleaned, infer_spec(cleaned, "target"), models=("random_forest",))
    rows = trained.x_test
    with TritonClient(server.endpoints.http_url, protocol="http") as client:
        client.load("cancer_cli")
        assert (
            client.config("cancer_cli").instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
        )  # a forest
        out = client.infer("cancer_cli", {"features": rows.astype(np.float64)})
    tolerance = meta["parity"]["tolerance"]  # one tree's vote
    np.testing.assert_allclose(out["probabilities"], trained.pipeline.predict_proba(rows), atol=tolerance)
    assert (out["label"].reshape(-1) == trained.pipeline.predict(rows)).mean() >= 0.98
    assert meta["features"]["columns"] == list(trained.spec.columns)
    # Nothing dropped by default, and the export says so (once 569 rows became fewer unsaid).
    assert f"cleaning: {len(frame)} rows in, {len(frame)} out" in result.output
    assert (meta["cleaning"]["rows_in"], meta["cleaning"]["rows_out"]) == (len(frame), len(frame))
    assert meta["cleaning"]["options"] == {
        "outliers": "none",
        "iqr_factor": 1.5,
        "missing": "model",
        "duplicates": "keep",
    }


def test_a_bad_source_leaves_the_repository_as_it_was(repository, tmp_path):
    root, _ = repository
    before = sorted(p.name for p in root.iterdir())
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(
        export_app, ["tabular", str(bad), "-t", "label", "-n", "nope", "-r", str(root)]
    )
    assert result.exit_code == 1
    assert "target column 'label' not in the data" in result.output
    assert sorted(p.name for p in root.iterdir()) == before
