"""The model contract: typed kinds, round trips, version-1 and -2 files migrated (provenance too),
unknown schemas refused."""

from __future__ import annotations

import json

import pytest

from modelserve.contracts.model import (
    ContractError,
    ContractMissingError,
    TensorContract,
    contract_json,
)
from modelserve.contracts.provenance import Provenance
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families import CONTRACTS
from modelserve.families.detection.contract import DetectionContract
from modelserve.families.recommendations.contract import RecommendationsContract
from modelserve.families.tabular.contract import TabularContract
from modelserve.families.text.contract import TextContract
from modelserve.families.vision.contract import ImageClassifierContract, ImageFeaturesContract
from modelserve.repository import ModelRepository

parse_contract = CONTRACTS.parse  # every family's kind, as the API reads them

SPEC = FeatureSpec(fields=(FieldSpec(name="a", kind="numeric"),), target="t", classes=("x", "y"))
COMMON = {"name": "m", "version": 3, "id": "m-abc", "sha256": "00", "created": "2026-11-28T00:00:00Z"}

# What the exporters wrote before the contract had a schema (trimmed to the keys that matter).
V1 = {
    "tabular": {
        **COMMON,
        "framework": "scikit-learn",
        "features": SPEC.as_dict(),
        "model": "lr",
        "metrics": {"lr": {"f1": 0.9}},
        "inputs": {"features": {"shape": [-1, 1]}},
        "preprocessing": "encode",
        "parity": {"max_abs_diff": 0.0},
        "versions": {"onnx": "1"},
    },
    "image-classifier": {
        **COMMON,
        "framework": "keras",
        "source": {"arch": "resnet50", "variant": "classifier"},
        "preprocessing": {
            "layout": "NHWC",
            "size": [224, 224],
            "channel_order": "RGB",
            "range": [0, 255],
            "resize": "nearest",
            "in_graph": "caffe",
        },
    },
    "image-features": {
        **COMMON,
        "framework": "keras",
        "source": {"arch": "vgg16", "variant": "features"},
        "preprocessing": {"layout": "NHWC", "size": [224, 224]},
    },
    "detection": {
        **COMMON,
        "framework": "darknet",
        "preprocessing": "stretch",
        "decoding": {
            "layout": "darknet_v3_raw",
            "input": {"name": "images", "shape": [-1, 3, 64, 64]},
            "outputs": [{"name": "yolo_0"}],
            "class_names": ["cat"],
        },
    },
    "text": {
        **COMMON,
        "framework": "transformers",
        "task": "nli",
        "labels": ["c", "n", "e"],
        "inputs": {"input_ids": {}, "attention_mask": {}},
        "entailment_index": 2,
        "tokenizer": "tokenizer",
        "max_length": 128,
        "pairs": True,
    },
    "recommendations": {
        **COMMON,
        "framework": "numpy+scikit-learn",
        "task": "recommendations",
        "users": ["u1"],
        "items": ["i1", "i2"],
        "popular": [1, 0],
        "similar_users": 20,
    },
    "tensor": {**COMMON, "source": "test"},
}
KINDS = {
    "tabular": TabularContract,
    "image-classifier": ImageClassifierContract,
    "image-features": ImageFeaturesContract,
    "detection": DetectionContract,
    "text": TextContract,
    "recommendations": RecommendationsContract,
    "tensor": TensorContract,
}


@pytest.mark.parametrize("kind", list(V1))
def test_version_1_files_migrate_to_their_kind_and_round_trip(kind):
    contract = parse_contract(V1[kind])
    assert type(contract) is KINDS[kind] and contract.kind == kind and contract.schema_version == 3
    assert contract.name == "m" and contract.version == 3 and contract.id == "m-abc"
    again = parse_contract(json.loads(contract_json(contract)))
    assert again == contract


def test_migrated_contracts_keep_what_the_routes_use():
    tab = parse_contract(V1["tabular"])
    assert isinstance(tab, TabularContract) and tab.features == SPEC and tab.metrics["lr"]["f1"] == 0.9
    text = parse_contract(V1["text"])
    assert isinstance(text, TextContract)
    assert (
        text.inputs == ("input_ids", "attention_mask")
        and text.entailment_index == 2
        and text.output == "logits"
    )
    image = parse_contract(V1["image-classifier"])
    assert isinstance(image, ImageClassifierContract) and image.image.size == (224, 224)
    assert image.output == "probabilities" and image.input == "images"


def test_an_unknown_schema_or_a_broken_contract_says_to_re_export():
    with pytest.raises(ContractError, match="schema_version 9 .* re-export"):
        parse_contract({"schema_version": 9, "kind": "tensor"})
    with pytest.raises(ContractError, match=r"text\.task: Field required; re-export"):
        parse_contract({"schema_version": 3, "kind": "text", "framework": "x", "inputs": []})
    with pytest.raises(ContractError, match="decoding.layout"):
        parse_contract(
            {
                **V1["detection"],
                "schema_version": 3,
                "kind": "detection",
                "decoding": {"layout": "?", "input": {}, "outputs": [1]},
            }
        )


def test_typos_in_a_contract_are_refused_not_ignored():
    with pytest.raises(ContractError, match="featurez"):
        parse_contract(
            {
                "schema_version": 3,
                "kind": "tabular",
                "framework": "x",
                "features": SPEC.as_dict(),
                "featurez": 1,
            }
        )


def test_reading_a_version_without_a_contract_says_so(tmp_path):
    (tmp_path / "m" / "1").mkdir(parents=True)
    with pytest.raises(ContractMissingError, match="no export contract"):
        ModelRepository(tmp_path).contract("m", 1)
    (tmp_path / "m" / "1" / "modelserve.json").write_text("[1, 2]")
    with pytest.raises(ContractError, match="not a JSON object"):
        ModelRepository(tmp_path).contract("m", 1)


def test_each_kind_names_itself_for_messages():
    assert TabularContract.describe() == "a tabular model"
    assert ImageClassifierContract.describe() == "an image-classifier model"
    assert parse_contract(V1["tensor"]).label == "a tensor model"


def _v2(kind: str, **changes):
    """A version-2 file: the version-1 layout migrated, with ``schema_version`` 2 and no provenance."""
    from modelserve.contracts.model import migrate_v1

    return {**migrate_v1(V1[kind]), **changes}


def test_version_2_files_read_with_provenance_from_what_they_recorded():
    image = {"arch": "resnet50", "variant": "classifier"}
    cases = {
        "image random": (_v2("image-classifier", source={**image, "weights": "random"}), "random"),
        "image imagenet": (_v2("image-classifier", source={**image, "weights": "imagenet"}), "pretrained"),
        "image file": (_v2("image-classifier", source={**image, "weights": "w.weights.h5"}), "local"),
        "tabular": (_v2("tabular", source="events.csv"), "trained"),
        "recommendations": (_v2("recommendations"), "trained"),
        "text": (_v2("text", source="org/name"), "unknown"),
        "detection": (_v2("detection"), "unknown"),
    }
    for label, (raw, weights) in cases.items():
        assert raw["schema_version"] == 2 and "provenance" not in raw
        contract = parse_contract(raw)
        assert contract.schema_version == 3 and contract.provenance.weights == weights, label
        assert contract.provenance.sha256 is None, f"{label}: no digest is made up on migration"
    assert parse_contract(cases["image imagenet"][0]).provenance.source == "keras:resnet50/imagenet"
    assert parse_contract(cases["tabular"][0]).provenance.source == "events.csv"


def test_a_version_1_file_without_a_weights_record_reads_as_unknown():
    contract = parse_contract(V1["image-classifier"])  # version 1 recorded arch and variant only
    assert contract.provenance == Provenance(weights="unknown")
    assert parse_contract(V1["tensor"]).provenance.weights == "unknown"


def test_provenance_round_trips_and_refuses_a_bad_digest_or_origin():
    recorded = Provenance(
        weights="local", source="/m", sha256="ab" * 32, files={"model.safetensors": "cd" * 32}
    )
    contract = TensorContract(framework="onnx", provenance=recorded)
    again = parse_contract(json.loads(contract_json(contract)))
    assert again.provenance == recorded and not again.provenance.random
    assert Provenance(weights="random").random
    raw = json.loads(contract_json(contract))
    with pytest.raises(ContractError, match="provenance.sha256"):
        parse_contract({**raw, "provenance": {"weights": "local", "sha256": "xyz"}})
    with pytest.raises(ContractError, match="provenance.weights"):
        parse_contract({**raw, "provenance": {"weights": "downloaded"}})


def test_a_contract_without_provenance_says_unknown_not_random():
    assert TensorContract(framework="onnx").provenance.weights == "unknown"
