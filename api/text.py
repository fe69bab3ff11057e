"""Text routes over the exported transformers models; tokenising happens here (the tokenizer
travels with the model version), Triton runs the graph, the answer is post-processed here.

    POST /v1/text/{name}/sentiment    {"texts": [...]}                      sequence classification
    POST /v1/text/{name}/zero-shot    {"text", "labels": [...], "multi_label", "hypothesis_template"}
    POST /v1/text/{name}/entities     {"text"}                              spans with character offsets
    POST /v1/text/{name}/embeddings   {"texts": [...]}                      unit vectors
    POST /v1/text/{name}/similarity   {"query", "candidates": [...]}        cosine, best first
    POST /v1/text/{name}/keywords     {"text", "top_k"}                     embedding-ranked phrases (MMR)
    POST /v1/text/{name}/summary      {"text", "sentences"}                 extractive: most central sentences

Keywords and summaries use the embedding model instead of the seed's word counts: candidate phrases
(and sentences) are embedded with the document and ranked by meaning, not frequency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import timing
from api.catalog import ServedModel
from api.errors import NotFoundError, UnprocessableError
from api.text_prep import (
    Entity,
    central_sentences,
    check_texts,
    cosine,
    entity_spans,
    keyword_candidates,
    select_keywords,
    softmax,
    split_sentences,
    tensors,
    zero_shot_scores,
)

router = APIRouter(prefix="/v1/text")
MAX_TEXTS, MAX_CHARS, MAX_LABELS = 64, 10_000, 32


class TextsRequest(BaseModel):
    texts: list[str] = Field(min_length=1)


class TextRequest(BaseModel):
    text: str


class ZeroShotRequest(BaseModel):
    text: str
    labels: list[str] = Field(min_length=1)
    multi_label: bool = False
    hypothesis_template: str = "This example is {}."


class KeywordsRequest(BaseModel):
    text: str
    top_k: int = Field(default=5, ge=1, le=20)


class SummaryRequest(BaseModel):
    text: str
    sentences: int = Field(default=3, ge=1, le=20)


class SimilarityRequest(BaseModel):
    query: str
    candidates: list[str] = Field(min_length=1)


async def _served(request: Request, name: str, tasks: tuple[str, ...]) -> ServedModel:
    state = request.app.state
    served: ServedModel = await state.catalog.served(state.triton, name)
    if served.metadata.get("task") not in tasks:
        raise NotFoundError(f"model '{name}' is not a {' or '.join(tasks)} model")
    return served


async def _infer(request: Request, served: ServedModel, pairs: list[Any]) -> tuple[np.ndarray, list[Any]]:
    state = request.app.state
    tokenizer = state.catalog.tokenizer(served)
    encodings = await run_in_threadpool(tokenizer.encode_batch, pairs)
    feed = tensors(encodings, list(served.metadata["inputs"]))
    output = "sentence_embedding" if served.metadata["task"] == "embeddings" else "logits"
    out = await timing.infer(request, served.name, feed, outputs=[output], version=served.version)
    return out[output], encodings


@router.post("/{name}/sentiment", summary="Sentiment (sequence classification)")
async def sentiment(request: Request, name: str, body: TextsRequest) -> dict[str, Any]:
    check_texts(body.texts, max_texts=MAX_TEXTS, max_chars=MAX_CHARS)
    served = await _served(request, name, ("sentiment",))
    logits, _ = await _infer(request, served, body.texts)
    labels = served.metadata["labels"]
    results = []
    for row in softmax(logits):
        best = int(row.argmax())
        results.append(
            {
                "label": labels[best],
                "confidence": float(row[best]),
                "scores": {label: float(p) for label, p in zip(labels, row, strict=True)},
            }
        )
    return {"model": name, "version": served.version, "results": results}


@router.post("/{name}/zero-shot", summary="Zero-shot classification with caller-given labels (NLI)")
async def zero_shot(request: Request, name: str, body: ZeroShotRequest) -> dict[str, Any]:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    if len(body.labels) > MAX_LABELS or any(not label.strip() for label in body.labels):
        raise UnprocessableError(f"labels must be 1 to {MAX_LABELS} non-empty strings")
    if "{}" not in body.hypothesis_template:
        raise UnprocessableError("hypothesis_template must contain '{}' where the label goes")
    served = await _served(request, name, ("nli",))
    pairs = [(body.text, body.hypothesis_template.format(label)) for label in body.labels]
    logits, _ = await _infer(request, served, pairs)
    scores = zero_shot_scores(logits, int(served.metadata["entailment_index"]), multi_label=body.multi_label)
    order = np.argsort(-scores)
    return {
        "model": name,
        "version": served.version,
        "sequence": body.text,
        "labels": [body.labels[i] for i in order],
        "scores": [float(scores[i]) for i in order],
    }


@router.post("/{name}/entities", summary="Named entities as character spans")
async def entities(request: Request, name: str, body: TextRequest) -> dict[str, Any]:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    served = await _served(request, name, ("ner",))
    logits, encodings = await _infer(request, served, [body.text])
    spans: list[Entity] = entity_spans(body.text, encodings[0], logits[0], served.metadata["labels"])
    return {"model": name, "version": served.version, "entities": [vars(s) for s in spans]}


@router.post("/{name}/embeddings", summary="Sentence embeddings (unit vectors)")
async def embeddings(request: Request, name: str, body: TextsRequest) -> dict[str, Any]:
    check_texts(body.texts, max_texts=MAX_TEXTS, max_chars=MAX_CHARS)
    served = await _served(request, name, ("embeddings",))
    vectors, _ = await _infer(request, served, body.texts)
    return {
        "model": name,
        "version": served.version,
        "dim": int(vectors.shape[1]),
        "embeddings": vectors.tolist(),
    }


@router.post("/{name}/similarity", summary="Cosine similarity of a query to candidates")
async def similarity(request: Request, name: str, body: SimilarityRequest) -> dict[str, Any]:
    check_texts([body.query, *body.candidates], max_texts=MAX_TEXTS + 1, max_chars=MAX_CHARS)
    served = await _served(request, name, ("embeddings",))
    vectors, _ = await _infer(request, served, [body.query, *body.candidates])
    sims = cosine(vectors[:1], vectors[1:])[0]
    order = np.argsort(-sims)
    return {
        "model": name,
        "version": served.version,
        "query": body.query,
        "results": [{"text": body.candidates[i], "score": float(sims[i])} for i in order],
    }


@router.post("/{name}/keywords", summary="Keywords ranked by meaning (embedding model)")
async def keywords(request: Request, name: str, body: KeywordsRequest) -> dict[str, Any]:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    served = await _served(request, name, ("embeddings",))
    candidates = keyword_candidates(body.text, MAX_TEXTS - 1)
    if not candidates:
        raise UnprocessableError("the text has no words to take keywords from")
    vectors, _ = await _infer(request, served, [body.text, *candidates])
    relevance = cosine(vectors[1:], vectors[:1])[:, 0]
    chosen = select_keywords(vectors[0], vectors[1:], body.top_k)
    return {
        "model": name,
        "version": served.version,
        "keywords": [{"keyword": candidates[i], "score": float(relevance[i])} for i in chosen],
    }


@router.post("/{name}/summary", summary="Extractive summary: the most central sentences")
async def summary(request: Request, name: str, body: SummaryRequest) -> dict[str, Any]:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    served = await _served(request, name, ("embeddings",))
    sentences = split_sentences(body.text)[:MAX_TEXTS]
    if len(sentences) <= body.sentences:
        return {
            "model": name,
            "version": served.version,
            "summary": " ".join(sentences),
            "sentences": sentences,
        }
    vectors, _ = await _infer(request, served, sentences)
    chosen = [sentences[i] for i in central_sentences(vectors, body.sentences)]
    return {"model": name, "version": served.version, "summary": " ".join(chosen), "sentences": chosen}
