"""Two exports of one source are the same bytes: every file of the version, the config and the
labels (testers found skl2onnx's random graph names and the contract's wall-clock date making each
export new). index.json records when each version was written; SOURCE_DATE_EPOCH pins that too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from modelserve.repository import WrittenVersion
from tests.helpers import file_digests

TINY_CFG = Path(__file__).resolve().parents[1] / "data" / "darknet" / "tiny-small.cfg"
Export = Callable[[Path], list[WrittenVersion]]


def _tabular(source: Path) -> Export:
    from modelserve.export.tabular_data import example_table
    from modelserve.families.tabular.exporter import export_tabular

    data = source / "events.csv"
    example_table(160, seed=5).to_csv(data, index=False)
    models = ("random_forest", "logistic_regression")  # a tree ensemble and a linear model
    return lambda repo: [
        export_tabular(repo, "segments", data, "segment", drop=["user_id"], models=models)[1]
    ]


def _demo_set(_: Path) -> Export:
    from modelserve.families.tabular.demo import export_demo_set

    return lambda repo: [m.written for m in export_demo_set(repo)]


def _darknet(source: Path) -> Export:
    from modelserve.export.darknet.cfg import load_cfg
    from modelserve.export.darknet.weights import random_weights, write_weights
    from modelserve.families.detection.exporter import export_darknet

    weights = source / "tiny.weights"
    write_weights(weights, random_weights(load_cfg(TINY_CFG), seed=7))
    names = source / "names.txt"
    names.write_text("cat\ndog\nbird\n")
    return lambda repo: [export_darknet(repo, "yolo", TINY_CFG, weights, names=names, random_weights=True)]


def _text(source: Path) -> Export:
    from modelserve.export.tiny_transformers import save_tiny_model
    from modelserve.families.text.exporter import export_transformer

    model = save_tiny_model("sentiment", source / "sentiment")
    return lambda repo: [export_transformer(repo, "tiny", str(model), "sentiment", random_weights=True)]


FAMILIES: dict[str, Callable[[Path], Export]] = {
    "tabular": _tabular,
    "demo set": _demo_set,
    "darknet": _darknet,
    "text (tiny BERT)": _text,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_two_exports_of_one_source_are_byte_identical(tmp_path, monkeypatch, family):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "source").mkdir()
    export = FAMILIES[family](tmp_path / "source")
    first, second = export(tmp_path / "a"), export(tmp_path / "b")
    assert [w.model_id for w in first] == [w.model_id for w in second]
    a, b = file_digests(tmp_path / "a"), file_digests(tmp_path / "b")
    assert a.pop("index.json") and b.pop("index.json")  # when each was written: below
    assert any(name.endswith("/1/modelserve.json") for name in a)
    assert a == b
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".pbtxt", ".txt") and path.name != "index.json":
            assert today not in path.read_text(), f"{path} holds today's date"


def test_source_date_epoch_makes_the_whole_repository_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
    (tmp_path / "source").mkdir()
    export = _darknet(tmp_path / "source")
    export(tmp_path / "a")
    export(tmp_path / "b")
    assert file_digests(tmp_path / "a") == file_digests(tmp_path / "b")
    assert '"created": "2026-01-01T00:00:00+00:00"' in (tmp_path / "a" / "index.json").read_text()
