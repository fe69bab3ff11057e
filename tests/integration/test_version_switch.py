"""After a forced version switch under load, every model family's answer names the version that
computed it, with that version's weights provenance (the gateway's retry lands on the new served
version; the answer once kept saying the old one everywhere but on the tabular route).

One small model per family, two versions each: v1's weights are recorded as ``local``, v2's as
``random``, so an answer's ``weights`` tells which version's contract stamped it. The API caches
the served version for a minute, so the first request after the switch goes to v1, finds it
unloaded, and is retried on v2.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.contracts.image import ImagePreprocessing
from modelserve.contracts.provenance import Provenance
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families import open_repository
from modelserve.families.detection.exporter import export_yolov8
from modelserve.families.recommendations.exporter import example_interactions, export_recommendations
from modelserve.families.tabular.exporter import export_classifier
from modelserve.families.text.contract import TextContract
from modelserve.families.vision.contract import ImageClassifierContract, ImageFeaturesContract
from modelserve.ops.stack import local_triton, serving
from modelserve.repository import DynamicBatching, ModelEntry, ModelRepository, TensorConfig
from modelserve.repository.config import config_to_json
from modelserve.serving.settings import ApiSettings
from tests.helpers import fake_yolov8

pytestmark = pytest.mark.integration

WEIGHTS = {1: Provenance(weights="local", source="v1"), 2: Provenance(weights="random", source="v2")}
WORDS = ["[PAD]", "[UNK]", "good", "bad", "film", "a", "cat"]
TOKEN_INPUTS = ("input_ids", "attention_mask")


def _graph(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: list[Any]) -> onnx.ModelProto:
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs, initializer=inits),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _image_model(output: str, width: int, seed: int) -> onnx.ModelProto:
    """[N, 8, 8, 3] -> flattened -> MatMul -> softmax (classifier) or the projection (features)."""
    w = np.random.default_rng(seed).normal(size=(192, width)).astype(np.float32) / 1e3
    nodes = [
        helper.make_node("Flatten", ["images"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["proj" if output == "probabilities" else output]),
    ]
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", ["proj"], ["probabilities"], axis=-1))
    return _graph(
        nodes,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 8, 8, 3])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", width])],
        [numpy_helper.from_array(w, "w")],
    )


def _text_model(seed: int) -> onnx.ModelProto:
    """Token ids -> two logits: the mean id times a per-version pair of weights."""
    w = np.random.default_rng(seed).normal(size=(1, 2)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["ids"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mask", "one"], ["count"], keepdims=1),
        helper.make_node("Add", ["mean", "count"], ["s"]),
        helper.make_node("MatMul", ["s", "w"], ["logits"]),
    ]
    return _graph(
        nodes,
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", "L"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["N", "L"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([1], np.int64), "one")],
    )


def _tokenizer(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory


def _write_image(repo: ModelRepository, name: str, kind: str, version: int) -> None:
    output, width = ("probabilities", 3) if kind == "classifier" else ("embedding", 4)
    contract_cls = ImageClassifierContract if kind == "classifier" else ImageFeaturesContract
    entry = ModelEntry(
        name=name,
        max_batch_size=4,
        inputs=(TensorConfig(name="images", data_type="FP32", dims=(8, 8, 3)),),
        outputs=(
            TensorConfig(
                name=output,
                data_type="FP32",
                dims=(width,),
                label_filename="labels.txt" if kind == "classifier" else None,
            ),
        ),
    )
    repo.write_version(
        entry,
        _image_model(output, width, version),
        version=version,
        labels=("cat", "dog", "fox") if kind == "classifier" else None,
        contract=contract_cls(
            framework="onnx", image=ImagePreprocessing(size=(8, 8)), provenance=WEIGHTS[version]
        ),
    )


def _write_text(repo: ModelRepository, tmp: Path, version: int) -> None:
    entry = ModelEntry(
        name="sentiment",
        max_batch_size=8,
        inputs=tuple(
            TensorConfig(name=n, data_type="INT64", dims=(-1,)) for n in ("input_ids", "attention_mask")
        ),
        outputs=(TensorConfig(name="logits", data_type="FP32", dims=(2,)),),
        dynamic_batching=DynamicBatching(),
    )
    contract = TextContract(
        framework="onnx",
        task="sentiment",
        inputs=TOKEN_INPUTS,
        labels=("negative", "positive"),
        max_length=16,
        provenance=WEIGHTS[version],
    )
    tokenizer = _tokenizer(tmp / f"tok{version}") / "tokenizer.json"
    repo.write_version(
        entry,
        _text_model(version),
        version=version,
        contract=contract,
        extra_files={"tokenizer/tokenizer.json": tokenizer},
    )


def build(root: Path, tmp: Path) -> None:
    repo = open_repository(root)
    data = np.random.default_rng(0).normal(size=(60, 2))
    target = (data[:, 0] > 0).astype(int)
    spec = FeatureSpec(
        fields=(FieldSpec(name="a", kind="numeric"), FieldSpec(name="b", kind="numeric")),
        target="t",
        classes=("no", "yes"),
    )
    from sklearn.linear_model import LogisticRegression

    interactions, items = example_interactions(20, 12, groups=2)
    onnx_path = tmp / "v8.onnx"
    onnx.save(fake_yolov8(classes=80, size=64), str(onnx_path))  # COCO's 80: default names
    for version in (1, 2):
        fitted = LogisticRegression(C=10.0 ** (version - 2)).fit(data, target)
        export_classifier(
            repo, "tab", fitted, data, spec=spec, source="test", version=version, provenance=WEIGHTS[version]
        )
        _write_image(repo, "classifier", "classifier", version)
        _write_image(repo, "features", "features", version)
        export_yolov8(repo, "detector", onnx_path, version=version, random_weights=version == 2)
        _write_text(repo, tmp, version)
        export_recommendations(repo, "recs", interactions, items, version=version)
    # Recommendations and detection record their own provenance (trained / local): set the pair
    # this test tells versions by.
    for name in ("recs", "detector"):
        for version in (1, 2):
            path = repo.version_dir(name, version) / "modelserve.json"
            raw = json.loads(path.read_text())
            raw["provenance"] = WEIGHTS[version].model_dump(mode="json")
            path.write_text(json.dumps(raw))
    for name in MODELS:
        repo.persist_versions(name, {1})  # Triton starts with v1 only


def _png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Route:
    model: str
    send: Callable[[httpx.Client], httpx.Response]


PNG = _png()


def _image(path: str) -> Callable[[httpx.Client], httpx.Response]:
    return lambda c: c.post(path, content=PNG, headers={"content-type": "image/png"})


def _sentiment(c: httpx.Client) -> httpx.Response:
    return c.post("/v1/text/sentiment/sentiment", json={"texts": ["a good film"]})


ROUTES = {
    "tabular": Route("tab", lambda c: c.post("/v1/models/tab/predict", json={"a": 0.5, "b": -1.0})),
    "vision-classify": Route("classifier", _image("/v1/vision/classifier/classify")),
    "vision-features": Route("features", _image("/v1/vision/features/features")),
    "detection": Route("detector", _image("/v1/vision/detector/detect?confidence=0.01")),
    "text": Route("sentiment", _sentiment),
    "recommendations": Route("recs", lambda c: c.get("/v1/recommendations/u1?model=recs&k=3")),
}
MODELS = sorted({r.model for r in ROUTES.values()})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    tmp = tmp_path_factory.mktemp("switch")
    build(tmp / "repo", tmp)
    with local_triton(tmp / "repo", tmp / "work", lock_control_plane=False) as triton:
        # A minute's trust in the cached served version: the switch is found by the failed call.
        settings = ApiSettings(
            triton_url=triton.endpoints.grpc_url,
            repository=tmp / "repo",
            versions_ttl_s=60.0,
            monitoring=False,
        )
        with serving(create_app(settings)) as url:
            yield tmp / "repo", triton.endpoints.grpc_url, url


def _switch(root: Path, grpc_url: str, name: str) -> None:
    """v2 in, v1 out, as a forced switch does: one load with a version-policy override, then the
    lifecycle file names v2."""
    repo = ModelRepository(root)
    config = repo.config(name)
    config.version_policy.Clear()
    config.version_policy.specific.versions.append(2)
    with TritonClient(grpc_url) as client:
        client.load(name, config=config_to_json(config))
    state = repo.lifecycle(name)
    state.served = 2
    repo.save_lifecycle(name, state)


@pytest.mark.parametrize("family", sorted(ROUTES))
def test_after_a_forced_switch_under_load_the_answer_names_the_version_that_computed_it(stack, family):
    root, grpc_url, url = stack
    route = ROUTES[family]
    seen: list[tuple[int, str, str, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                answer = route.send(client)
                body = answer.json()
                seen.append(
                    (answer.status_code, body.get("version", ""), body.get("weights", ""), answer.text)
                )

    with httpx.Client(base_url=url, timeout=30) as client:
        first = route.send(client)
        assert first.status_code == 200, first.text
        assert (first.json()["version"], first.json()["weights"]) == ("1", "local")
        workers = [threading.Thread(target=load) for _ in range(3)]
        for w in workers:
            w.start()
        try:
            _switch(root, grpc_url, route.model)
            after = route.send(client)
        finally:
            stop.set()
            for w in workers:
                w.join(timeout=60)
    assert after.status_code == 200, after.text
    assert (after.json()["version"], after.json()["weights"]) == ("2", "random")
    assert after.headers["modelserve-weights"] == "random"
    assert seen, "the load ran"
    failed = [text for status, _, _, text in seen if status != 200]
    assert failed == [], failed[:3]
    mixed = {(v, w) for _, v, w, _ in seen} - {("1", "local"), ("2", "random")}
    assert mixed == set(), "an answer named one version and carried another's provenance"
