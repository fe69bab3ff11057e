"""The model contract: typed kinds, round trips, version-1 files migrated, unknown schemas refused."""

from __future__ import annotations

import json

import pytest

from contracts.model import (
    ContractError,
    ContractMissingError,
    DetectionContract,
    ImageClassifierContract,
    ImageFeaturesContract,
    RecommendationsContract,
    TabularContract,
    TensorContract,
    TextContract,
    contract_json,
    parse_contract,
    read_contract,
)
from contracts.tabular import FeatureSpec, FieldSpec

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
    assert type(contract) is KINDS[kind] and contract.kind == kind and contract.schema_version == 2
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
        parse_contract({"schema_version": 2, "kind": "text", "framework": "x", "inputs": []})
    with pytest.raises(ContractError, match="decoding.layout"):
        parse_contract(
            {
                **V1["detection"],
                "schema_version": 2,
                "kind": "detection",
                "decoding": {"layout": "?", "input": {}, "outputs": [1]},
            }
        )


def test_typos_in_a_contract_are_refused_not_ignored():
    with pytest.raises(ContractError, match="featurez"):
        parse_contract(
            {
                "schema_version": 2,
                "kind": "tabular",
                "framework": "x",
                "features": SPEC.as_dict(),
                "featurez": 1,
            }
        )


def test_reading_a_version_without_a_contract_says_so(tmp_path):
    with pytest.raises(ContractMissingError, match="no export contract"):
        read_contract(tmp_path)
    (tmp_path / "modelserve.json").write_text("[1, 2]")
    with pytest.raises(ContractError, match="not a JSON object"):
        read_contract(tmp_path)


def test_each_kind_names_itself_for_messages():
    assert TabularContract.describe() == "a tabular model"
    assert ImageClassifierContract.describe() == "an image-classifier model"
    assert parse_contract(V1["tensor"]).label == "a tensor model"
