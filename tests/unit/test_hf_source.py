"""Transformers sources: hub ids with or without an org, offline (HF_HUB_OFFLINE=1, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelserve.cli.export import app as export_app
from modelserve.export.errors import SourceUnavailableError
from modelserve.export.hf_source import resolve

SST2 = "distilbert-base-uncased-finetuned-sst-2-english"  # the docs' example: a hub id without an org


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    return cache


def test_a_hub_id_without_an_org_resolves_from_the_cache_offline(offline_cache: Path) -> None:
    revision = "0123456789abcdef0123456789abcdef01234567"
    model = offline_cache / "models--tiny-sst"
    (model / "refs").mkdir(parents=True)
    (model / "refs" / "main").write_text(revision)
    snapshot = model / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "bert"}))
    resolved = resolve("tiny-sst")
    assert resolved.origin == "hub" and resolved.path == snapshot
    assert resolved.label == f"hub:tiny-sst@{revision}"


def test_the_docs_hub_id_is_tried_and_fails_offline_with_the_cache_message(
    offline_cache: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    result = CliRunner().invoke(
        export_app, ["transformer", SST2, "--task", "sentiment", "-n", "sst2", "-r", str(root)]
    )
    assert result.exit_code == 1, result.output
    assert f"hub id '{SST2}' is not in the local cache" in result.output
    assert "HF_HUB_OFFLINE is set" in result.output and "not a hub id" not in result.output
    assert not (root / "sst2").exists()


@pytest.mark.parametrize("source", ["./no-such-dir", "a/b/c", "two..dots", "-dash"])
def test_a_source_that_is_neither_a_directory_nor_a_hub_id_says_so(offline_cache: Path, source: str) -> None:
    with pytest.raises(SourceUnavailableError, match="no such directory \\(and not a hub id like 'name'"):
        resolve(source)
