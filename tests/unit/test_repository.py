from __future__ import annotations

import json

import pytest

from modelserve.contracts.model import TensorContract
from modelserve.repository import ModelRepository
from modelserve.repository.config import read_config, write_config
from modelserve.repository.errors import (
    ConfigValidationError,
    RepositoryReadError,
    RepositoryWriteError,
    VersionExistsError,
)
from modelserve.repository.spec import ModelEntry, TensorConfig
from tests.helpers import file_digests, read_contract, scale_model

ENTRY = ModelEntry(
    name="scale",
    max_batch_size=8,
    inputs=(TensorConfig(name="x", data_type="FP32", dims=(4,)),),
    outputs=(TensorConfig(name="y", data_type="FP32", dims=(4,)),),
)


def test_write_model_lays_out_config_version_and_metadata(tmp_path):
    contract = TensorContract(framework="onnx", source="test")
    written = ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0), contract=contract)
    assert written.version == 1
    assert (tmp_path / "scale" / "1" / "model.onnx").is_file()
    assert read_config(tmp_path / "scale" / "config.pbtxt").name == "scale"
    meta = read_contract(tmp_path / "scale" / "1")
    assert meta.source == "test" and meta.sha256 == written.sha256
    assert meta.kind == "tensor" and meta.name == "scale" and meta.version == 1


def test_versions_count_up_and_an_existing_version_is_refused_and_left_as_it_was(tmp_path):
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0))
    assert ModelRepository(tmp_path).write_version(ENTRY, scale_model(3.0)).version == 2
    assert ModelRepository(tmp_path).versions("scale") == [1, 2]
    before = file_digests(tmp_path)
    with pytest.raises(VersionExistsError, match=r"'scale' v1 already exists \(scale@\w{12}\)") as err:
        ModelRepository(tmp_path).write_version(ENTRY, scale_model(4.0), version=1)
    assert "--version 3" in str(err.value) and err.value.next_version == 3
    assert isinstance(err.value, RepositoryWriteError)  # the CLI's one-line rule catches it
    assert file_digests(tmp_path) == before


def test_reuse_returns_the_newest_version_when_it_holds_the_same_export(tmp_path):
    repo = ModelRepository(tmp_path)
    contract = TensorContract(framework="onnx", source="test")
    first = repo.write_version(ENTRY, scale_model(2.0), contract=contract, reuse=True)
    assert (first.version, first.reused) == (1, False)
    before = file_digests(tmp_path)
    again = ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0), contract=contract, reuse=True)
    assert (again.version, again.reused, again.model_id) == (1, True, first.model_id)
    assert file_digests(tmp_path) == before  # nothing written, index.json included
    other = ModelRepository(tmp_path).write_version(
        ENTRY, scale_model(2.0), contract=contract.model_copy(update={"source": "elsewhere"}), reuse=True
    )
    assert (other.version, other.reused) == (2, False)  # the same graph, another contract
    with pytest.raises(VersionExistsError):  # a version that differs is never rewritten, reuse or not
        ModelRepository(tmp_path).write_version(ENTRY, scale_model(5.0), version=2, reuse=True)


def test_a_versions_files_hold_no_wall_clock_time_unless_source_date_epoch_pins_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0))
    assert read_contract(tmp_path / "scale" / "1").created == ""
    assert ModelRepository(tmp_path).index.read()["scale"]["1"]["created"]  # when it was written
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(3.0))
    assert read_contract(tmp_path / "scale" / "2").created == "2023-11-14T22:13:20+00:00"
    assert ModelRepository(tmp_path).index.read()["scale"]["2"]["created"] == "2023-11-14T22:13:20+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH='yesterday'"):
        ModelRepository(tmp_path).write_version(ENTRY, scale_model(4.0))
    assert ModelRepository(tmp_path).versions("scale") == [1, 2]


def test_a_new_version_leaves_the_served_version_policy_alone(tmp_path):
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0))
    path = tmp_path / "scale" / "config.pbtxt"
    assert read_config(path).version_policy.WhichOneof("policy_choice") == "latest"  # never promoted
    config = read_config(path)
    config.version_policy.specific.versions.append(1)  # what `models promote scale 1` persists
    write_config(path, config)
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(3.0))
    assert list(read_config(path).version_policy.specific.versions) == [1]  # v2 written, not served


def test_invalid_config_writes_nothing(tmp_path):
    bad = ModelEntry(
        name="bad",
        max_batch_size=8,
        inputs=(TensorConfig(name="x", data_type="FP32", dims=(5,)),),
        outputs=(TensorConfig(name="y", data_type="FP32", dims=(4,)),),
    )
    with pytest.raises(ConfigValidationError, match="dim 0 is 5"):
        ModelRepository(tmp_path).write_version(bad, scale_model(2.0))
    assert not (tmp_path / "bad").exists()


def test_label_count_must_match_the_output(tmp_path):
    entry = ModelEntry(
        name="scale",
        max_batch_size=8,
        inputs=(TensorConfig(name="x", data_type="FP32", dims=(4,)),),
        outputs=(TensorConfig(name="y", data_type="FP32", dims=(4,), label_filename="labels.txt"),),
    )
    with pytest.raises(ConfigValidationError, match="4 classes but 3 labels"):
        ModelRepository(tmp_path).write_version(entry, scale_model(2.0), labels=["a", "b", "c"])
    ModelRepository(tmp_path).write_version(entry, scale_model(2.0), labels=["a", "b", "c", "d"])
    assert (tmp_path / "scale" / "labels.txt").read_text().split() == ["a", "b", "c", "d"]


def test_no_staging_directory_is_left_behind(tmp_path):
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0))
    assert [p.name for p in (tmp_path / "scale").iterdir() if p.name.startswith(".")] == []


def test_list_models_reports_unusable_entries(tmp_path):
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.pbtxt").write_text("max_batch_size: {")
    listed = {m.name: m for m in ModelRepository(tmp_path).models()}
    assert listed["scale"].versions == (1,) and listed["scale"].problem is None
    assert listed["broken"].problem is not None
    assert json.loads(json.dumps(listed["scale"].versions)) == [1]


def test_a_file_given_as_the_repository_is_named_as_one(tmp_path):
    (tmp_path / "items.csv").write_text("a,b\n")
    with pytest.raises(RepositoryReadError, match="is a file, not a directory"):
        ModelRepository(tmp_path / "items.csv").models()
    with pytest.raises(RepositoryReadError, match="does not exist"):
        ModelRepository(tmp_path / "nope").models()


def test_each_file_is_parsed_once_until_it_is_replaced(tmp_path, monkeypatch):
    """A flow asks the repository for the same config, contract and lifecycle state many times (a
    retrain did 2-4 reads of each); the repository parses each once, and sees a replaced file."""
    from modelserve.repository import config, repository

    repo = ModelRepository(tmp_path)
    repo.write_version(ENTRY, scale_model(2.0))
    parsed = []

    def counted(path):
        parsed.append(path)
        return config.read_config(path)

    monkeypatch.setattr(repository, "read_config", counted)
    assert [repo.config("scale").name for _ in range(4)] == ["scale"] * 4
    assert len(parsed) == 1
    assert repo.contract("scale", 1) is repo.contract("scale", "1")  # one parse for both spellings
    state = repo.lifecycle("scale")
    state.served = 1
    repo.save_lifecycle("scale", state)
    assert repo.lifecycle("scale").served == 1 and repo.served_version("scale") == 1
    changed = repo.config("scale")
    changed.max_batch_size = 4
    repo.write_config("scale", changed)  # a new file (atomic rename): read again
    assert repo.config("scale").max_batch_size == 4 and len(parsed) == 2
    repo.config("scale").max_batch_size = 99  # a caller's copy, not the cached message
    assert repo.config("scale").max_batch_size == 4


def test_names_that_leave_the_repository_are_refused(tmp_path):
    repo = ModelRepository(tmp_path)
    with pytest.raises(ConfigValidationError, match="model name"):
        repo.model_dir("../etc")
    assert not repo.has_model("..") and not repo.has_version("scale", "x")
