"""Text routes over the exported transformers models; tokenising happens here (the tokenizer
travels with the model version), Triton runs the graph, the answer is post-processed here.

    POST /v1/text/{name}/sentiment    {"texts": [...]}                      sequence classification
    POST /v1/text/{name}/zero-shot    {"text", "labels": [...], "multi_label", "hypothesis_template"}
    POST /v1/text/{name}/entities     {"text"}                              spans with character offsets
    POST /v1/text/{name}/embeddings   {"texts": [...]}                      unit vectors
    POST /v1/text/{name}/similarity   {"query", "candidates": [...]}        cosine, best first
    POST /v1/text/{name}/keywords     {"text", "top_k"}                     embedding-ranked phrases (MMR)
    POST /v1/text/{name}/summary      {"text", "sentences"}                 extractive: most central sentences

Keywords and summaries use the embedding model rather than word counts: candidate phrases (and
sentences) are embedded with the document and ranked by meaning, not frequency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool
from tokenizers import Tokenizer

from modelserve.families.text.contract import TextContract, TextTask
from modelserve.families.text.lexicon import LexiconSentiment, lexicon_sentiment
from modelserve.families.text.prep import (
    Entity,
    central_sentences,
    check_texts,
    cosine,
    entity_spans,
    hypothesis_template,
    keyword_candidates,
    load_tokenizer,
    select_keywords,
    softmax,
    split_sentences,
    tensors,
    zero_shot_scores,
)
from modelserve.serving.call import Call, ModelAnswer
from modelserve.serving.errors import NotFoundError, UnavailableError, UnprocessableError
from modelserve.serving.params import ModelName, unicode_text
from modelserve.serving.services import Services, Svc

router = APIRouter(prefix="/v1/text")
MAX_TEXTS, MAX_CHARS, MAX_LABELS, MAX_LABEL_CHARS, MAX_TEMPLATE_CHARS = 64, 10_000, 32, 200, 300
# Texts go to Triton this many at a time, one part after another: a request whose client leaves
# stops within one part (~0.3 s of CPU for 8 texts of 128 tokens here) instead of running to its end.
TEXTS_IN_TURN = 8
# Each one is tokenised with every label: a 400 KB template once cost 13-17 s and 1.2 GB.
Text = Annotated[str, AfterValidator(unicode_text)]
Label = Annotated[str, StringConstraints(max_length=MAX_LABEL_CHARS), AfterValidator(unicode_text)]
Template = Annotated[
    str, StringConstraints(max_length=MAX_TEMPLATE_CHARS), AfterValidator(hypothesis_template)
]


class StrictBody(BaseModel):
    """A request body: an unknown field or a value of another type ("2" for 2, "yes" for true) is a
    422 naming it, as on the tabular route, rather than silently dropped or converted."""

    model_config = ConfigDict(extra="forbid", strict=True)


class TextsRequest(StrictBody):
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)


class TextRequest(StrictBody):
    text: Text


class ZeroShotRequest(StrictBody):
    text: Text
    labels: list[Label] = Field(min_length=1, max_length=MAX_LABELS)
    multi_label: bool = False
    hypothesis_template: Template = "This example is {}."


class KeywordsRequest(StrictBody):
    text: Text
    top_k: int = Field(default=5, ge=1, le=20)


class SummaryRequest(StrictBody):
    text: Text
    sentences: int = Field(default=3, ge=1, le=20)


class SimilarityRequest(StrictBody):
    query: Text
    candidates: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)


class Sentiment(BaseModel):
    label: str  # the model's
    confidence: float
    scores: dict[str, float]
    lexicon: LexiconSentiment  # TextBlob's lexicon on the same text, independent of the model
    prediction_id: str | None = None  # for feedback (monitoring on)


class SentimentResponse(ModelAnswer):
    results: list[Sentiment]


class ZeroShotResponse(ModelAnswer):
    sequence: str
    labels: list[str]  # best first
    scores: list[float]
    prediction_id: str | None = None  # the best label's, for feedback (monitoring on)


class EntityOut(BaseModel):
    entity: str
    text: str
    start: int  # character offsets into the text
    end: int
    score: float


class EntitiesResponse(ModelAnswer):
    entities: list[EntityOut]


class EmbeddingsResponse(ModelAnswer):
    dim: int
    embeddings: list[list[float]]


class Scored(BaseModel):
    text: str
    score: float


class SimilarityResponse(ModelAnswer):
    query: str
    results: list[Scored]  # best first


class Keyword(BaseModel):
    keyword: str
    score: float


class KeywordsResponse(ModelAnswer):
    keywords: list[Keyword]


class SummaryResponse(ModelAnswer):
    summary: str
    sentences: list[str]


def load_text_tokenizer(version_dir: Path, contract: TextContract) -> Tokenizer:
    """The tokenizer that travels with the version (``contract.tokenizer``, a directory in it)."""
    directory = version_dir / contract.tokenizer
    if not (directory / "tokenizer.json").is_file():
        raise UnavailableError(f"model '{contract.name}' v{contract.version} has no tokenizer at {directory}")
    return load_tokenizer(directory, contract.max_length)


async def _open(
    request: Request, response: Response, svc: Services, name: str, task: TextTask
) -> Call[TextContract]:
    call = await Call.open(svc, request, response, name, TextContract)
    if call.contract.task != task:
        raise NotFoundError(f"model '{name}' is a {call.contract.task} text model, not a {task} model")
    return call


async def _infer(call: Call[TextContract], pairs: list[Any]) -> tuple[np.ndarray, list[Any]]:
    tokenizer = call.svc.catalog.asset(call.served, "tokenizer", load_text_tokenizer)
    encodings = await run_in_threadpool(tokenizer.encode_batch, pairs)
    output = call.contract.output
    # Padded to the longest text of the whole request; more texts than the model's max batch size
    # (a query and 64 candidates) go in parts, together.
    feed = tensors(encodings, call.contract.inputs)
    out = await call.infer_rows(feed, outputs=[output], in_turn=TEXTS_IN_TURN)
    return out[output], encodings


@router.post(
    "/{name}/sentiment", response_model=SentimentResponse, summary="Sentiment (sequence classification)"
)
async def sentiment(
    request: Request, response: Response, svc: Svc, name: ModelName, body: TextsRequest
) -> SentimentResponse:
    check_texts(body.texts, max_texts=MAX_TEXTS, max_chars=MAX_CHARS)
    call = await _open(request, response, svc, name, "sentiment")
    logits, _ = await _infer(call, body.texts)
    lexicon = await run_in_threadpool(lexicon_sentiment, body.texts)
    labels = call.contract.labels
    results = []
    for row, lex in zip(softmax(logits), lexicon, strict=True):
        best = int(row.argmax())
        scores = {label: float(p) for label, p in zip(labels, row, strict=True)}
        results.append(Sentiment(label=labels[best], confidence=float(row[best]), scores=scores, lexicon=lex))
    ids = call.record([r.label for r in results], [r.confidence for r in results])
    for result, pid in zip(results, ids or (), strict=False):
        result.prediction_id = pid
    return call.answer(SentimentResponse, results=results)


@router.post(
    "/{name}/zero-shot",
    response_model=ZeroShotResponse,
    summary="Zero-shot classification with caller-given labels (NLI)",
)
async def zero_shot(
    request: Request, response: Response, svc: Svc, name: ModelName, body: ZeroShotRequest
) -> ZeroShotResponse:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    if any(not label.strip() for label in body.labels):
        raise UnprocessableError(f"labels must be 1 to {MAX_LABELS} non-empty strings")
    call = await _open(request, response, svc, name, "nli")
    entailment = call.contract.entailment_index
    if entailment is None:
        raise NotFoundError(f"model '{name}' does not say which logit is entailment; re-export it")
    pairs = [(body.text, body.hypothesis_template.format(label)) for label in body.labels]
    logits, _ = await _infer(call, pairs)
    scores = zero_shot_scores(logits, entailment, multi_label=body.multi_label)
    order = np.argsort(-scores)
    ids = call.record([body.labels[order[0]]], [float(scores[order[0]])])
    return call.answer(
        ZeroShotResponse,
        sequence=body.text,
        labels=[body.labels[i] for i in order],
        scores=[float(scores[i]) for i in order],
        prediction_id=ids[0] if ids else None,
    )


@router.post("/{name}/entities", response_model=EntitiesResponse, summary="Named entities as character spans")
async def entities(
    request: Request, response: Response, svc: Svc, name: ModelName, body: TextRequest
) -> EntitiesResponse:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    call = await _open(request, response, svc, name, "ner")
    logits, encodings = await _infer(call, [body.text])
    spans: list[Entity] = entity_spans(body.text, encodings[0], logits[0], call.contract.labels)
    return call.answer(
        EntitiesResponse,
        entities=[EntityOut(**vars(s)) for s in spans],
    )


@router.post(
    "/{name}/embeddings", response_model=EmbeddingsResponse, summary="Sentence embeddings (unit vectors)"
)
async def embeddings(
    request: Request, response: Response, svc: Svc, name: ModelName, body: TextsRequest
) -> EmbeddingsResponse:
    check_texts(body.texts, max_texts=MAX_TEXTS, max_chars=MAX_CHARS)
    call = await _open(request, response, svc, name, "embeddings")
    vectors, _ = await _infer(call, body.texts)
    return call.answer(
        EmbeddingsResponse,
        dim=int(vectors.shape[1]),
        embeddings=vectors.tolist(),
    )


@router.post(
    "/{name}/similarity",
    response_model=SimilarityResponse,
    summary="Cosine similarity of a query to candidates",
)
async def similarity(
    request: Request, response: Response, svc: Svc, name: ModelName, body: SimilarityRequest
) -> SimilarityResponse:
    check_texts([body.query, *body.candidates], max_texts=MAX_TEXTS + 1, max_chars=MAX_CHARS)
    call = await _open(request, response, svc, name, "embeddings")
    vectors, _ = await _infer(call, [body.query, *body.candidates])
    sims = cosine(vectors[:1], vectors[1:])[0]
    order = np.argsort(-sims)
    return call.answer(
        SimilarityResponse,
        query=body.query,
        results=[Scored(text=body.candidates[i], score=float(sims[i])) for i in order],
    )


@router.post(
    "/{name}/keywords",
    response_model=KeywordsResponse,
    summary="Keywords ranked by meaning (embedding model)",
)
async def keywords(
    request: Request, response: Response, svc: Svc, name: ModelName, body: KeywordsRequest
) -> KeywordsResponse:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    call = await _open(request, response, svc, name, "embeddings")
    candidates = keyword_candidates(body.text, MAX_TEXTS - 1)
    if not candidates:
        raise UnprocessableError("the text has no words to take keywords from")
    vectors, _ = await _infer(call, [body.text, *candidates])
    relevance = cosine(vectors[1:], vectors[:1])[:, 0]
    chosen = select_keywords(vectors[0], vectors[1:], body.top_k)
    chosen.sort(key=lambda i: -relevance[i])  # MMR picks for variety; the answer ranks by relevance
    return call.answer(
        KeywordsResponse,
        keywords=[Keyword(keyword=candidates[i], score=float(relevance[i])) for i in chosen],
    )


@router.post(
    "/{name}/summary",
    response_model=SummaryResponse,
    summary="Extractive summary: the most central sentences",
)
async def summary(
    request: Request, response: Response, svc: Svc, name: ModelName, body: SummaryRequest
) -> SummaryResponse:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    call = await _open(request, response, svc, name, "embeddings")
    sentences = split_sentences(body.text)[:MAX_TEXTS]
    sentences = [s for s in sentences if any(c.isalnum() for c in s)]  # "." alone is no sentence
    if not sentences:
        raise UnprocessableError("the text has no sentences with words to summarise")
    if len(sentences) > body.sentences:
        vectors, _ = await _infer(call, sentences)
        sentences = [sentences[i] for i in central_sentences(vectors, body.sentences)]
    return call.answer(
        SummaryResponse,
        summary=" ".join(sentences),
        sentences=sentences,
    )
