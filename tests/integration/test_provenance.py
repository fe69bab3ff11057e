"""Provenance end to end: a random-weight model exported through the CLI (the warning line), served
on the embedded Triton, is marked ``random`` in ``/v1/models``, in its answers' header and field
and in ``models list``, and the API warns once as it starts; a tabular export says ``trained`` with
the digest of its data file."""

from __future__ import annotations

import hashlib
import io
import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from modelserve.api.app import create_app
from modelserve.cli.app import app as cli
from modelserve.client import TritonClient
from modelserve.contracts.provenance import RANDOM_WARNING
from modelserve.export.darknet.cfg import load_cfg
from modelserve.export.darknet.weights import random_weights, write_weights
from modelserve.export.tabular_data import example_table
from modelserve.serving.call import WEIGHTS_HEADER
from modelserve.serving.settings import ApiSettings
from tests.integration.test_export_yolo import TINY_CFG

pytestmark = pytest.mark.integration
RANDOM, TRAINED = "prov_yolo", "prov_events"


@pytest.fixture(scope="module")
def exported(server, repository, tmp_path_factory):
    root, _ = repository
    tmp = tmp_path_factory.mktemp("provenance")
    weights = tmp / "tiny.weights"
    write_weights(weights, random_weights(load_cfg(TINY_CFG), seed=5))
    (tmp / "names.txt").write_text("cat\ndog\nbird\n")
    data = tmp / "events.csv"
    example_table(300, seed=4).to_csv(data, index=False)
    runner, repo = CliRunner(), ["-r", str(root)]
    darknet = ["darknet", str(TINY_CFG), str(weights), "-n", RANDOM, "--names", str(tmp / "names.txt")]
    yolo = runner.invoke(cli, ["export", *darknet, "--random-weights", *repo])
    assert yolo.exit_code == 0, yolo.output
    tabular = ["tabular", str(data), "-t", "segment", "-n", TRAINED, "--drop", "user_id"]
    table = runner.invoke(cli, ["export", *tabular, "-m", "logistic_regression", *repo])
    assert table.exit_code == 0, table.output
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load(RANDOM)
        client.load(TRAINED)
    return {"root": root, "data": data, "outputs": (yolo.output, table.output)}


def _api(server, root):
    return TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root)))


def test_the_export_prints_the_random_weights_warning_for_the_random_model_only(exported):
    yolo, table = exported["outputs"]
    assert f"warning: model '{RANDOM}' v1: {RANDOM_WARNING}" in yolo
    assert "weights are random" not in table


def test_v1_models_marks_the_random_model_and_the_trained_one_with_its_data_digest(server, exported):
    with _api(server, exported["root"]) as api:
        listed = api.get("/v1/models").json()["models"]
    states = {(m["name"], m["version"]): m for m in listed}
    random_model, trained_model = states[(RANDOM, "1")], states[(TRAINED, "1")]
    assert random_model["state"] == "READY" and random_model["weights"] == "random"
    assert random_model["provenance"]["weights"] == "random"
    digest = hashlib.sha256(exported["data"].read_bytes()).hexdigest()
    assert trained_model["weights"] == "trained"
    assert trained_model["provenance"] == {
        "weights": "trained",
        "source": str(exported["data"]),
        "sha256": digest,
        "files": {},
    }


def test_answers_carry_the_weights_header_and_field(server, exported):
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (90, 120, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    record = example_table(5, seed=9).drop(columns=["segment", "user_id"]).iloc[0].to_dict()
    record["created_at"] = str(record["created_at"])
    with _api(server, exported["root"]) as api:
        detect = api.post(
            f"/v1/vision/{RANDOM}/detect?confidence=0.3",
            content=buffer.getvalue(),
            headers={"content-type": "image/png"},
        )
        predict = api.post(f"/v1/models/{TRAINED}/predict", json=record)
    assert detect.status_code == 200, detect.text
    assert detect.headers[WEIGHTS_HEADER] == "random" and detect.json()["weights"] == "random"
    assert predict.status_code == 200, predict.text
    assert predict.headers[WEIGHTS_HEADER] == "trained" and predict.json()["weights"] == "trained"


def test_the_api_warns_once_per_random_model_as_it_starts(server, exported, caplog):
    with caplog.at_level(logging.WARNING, logger="modelserve.api.app"), _api(server, exported["root"]) as api:
        assert api.get("/health").status_code == 200
    mine = [m for m in caplog.messages if f"'{RANDOM}'" in m]
    assert mine == [f"model '{RANDOM}' v1: {RANDOM_WARNING}"]
    assert not any(f"'{TRAINED}'" in m for m in caplog.messages)


def test_models_list_shows_the_weights_column(server, exported):
    result = CliRunner().invoke(
        cli, ["models", "list", "-r", str(exported["root"]), "--url", server.endpoints.grpc_url]
    )
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split()[:6] == ["model", "ver", "id", "created", "weights", "state"]
    columns = {row.split()[0]: row.split() for row in rows}
    assert columns[RANDOM][4:6] == ["random", "READY"]
    assert columns[TRAINED][4:6] == ["trained", "READY"]
