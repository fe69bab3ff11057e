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

import asyncio
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from modelserve.api.catalog import Served
from modelserve.api.errors import NotFoundError, UnprocessableError
from modelserve.api.lexicon import LexiconSentiment, lexicon_sentiment
from modelserve.api.params import ModelName
from modelserve.api.services import Services, Svc
from modelserve.api.text_prep import (
    Entity,
    central_sentences,
    check_texts,
    cosine,
    entity_spans,
    hypothesis_template,
    keyword_candidates,
    select_keywords,
    softmax,
    split_sentences,
    tensors,
    unicode_text,
    zero_shot_scores,
)
from modelserve.api.weights import Weights, stamp
from modelserve.contracts.model import TextContract, TextTask

router = APIRouter(prefix="/v1/text")
MAX_TEXTS, MAX_CHARS, MAX_LABELS, MAX_LABEL_CHARS, MAX_TEMPLATE_CHARS = 64, 10_000, 32, 200, 300
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


class SentimentResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    results: list[Sentiment]


class ZeroShotResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    sequence: str
    labels: list[str]  # best first
    scores: list[float]


class EntityOut(BaseModel):
    entity: str
    text: str
    start: int  # character offsets into the text
    end: int
    score: float


class EntitiesResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    entities: list[EntityOut]


class EmbeddingsResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    dim: int
    embeddings: list[list[float]]


class Scored(BaseModel):
    text: str
    score: float


class SimilarityResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    query: str
    results: list[Scored]  # best first


class Keyword(BaseModel):
    keyword: str
    score: float


class KeywordsResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    keywords: list[Keyword]


class SummaryResponse(BaseModel):
    model: str
    version: str
    weights: Weights
    summary: str
    sentences: list[str]


async def _served(svc: Services, name: str, task: TextTask) -> Served[TextContract]:
    served = await svc.catalog.served(name, TextContract)
    if served.contract.task != task:
        raise NotFoundError(f"model '{name}' is a {served.contract.task} text model, not a {task} model")
    return served


async def _infer(
    request: Request, svc: Services, served: Served[TextContract], pairs: list[Any]
) -> tuple[np.ndarray, list[Any]]:
    tokenizer = svc.catalog.tokenizer(served)
    encodings = await run_in_threadpool(tokenizer.encode_batch, pairs)
    contract = served.contract
    feed = tensors(encodings, contract.inputs)  # padded to the longest text of the whole request
    limit = await svc.catalog.max_batch(served)
    step = limit if 0 < limit < len(encodings) else len(encodings)
    # More texts than the model's max_batch_size (a query and 64 candidates; a model exported
    # with a smaller batch): in parts, sent together so Triton's batcher takes them at once.
    parts = await asyncio.gather(
        *(
            svc.gateway.infer(
                request,
                served.name,
                {key: value[start : start + step] for key, value in feed.items()},
                outputs=[contract.output],
                version=served.version,
            )
            for start in range(0, len(encodings), step)
        )
    )
    return np.concatenate([part[contract.output] for part in parts]), encodings


@router.post(
    "/{name}/sentiment", response_model=SentimentResponse, summary="Sentiment (sequence classification)"
)
async def sentiment(
    request: Request, response: Response, svc: Svc, name: ModelName, body: TextsRequest
) -> SentimentResponse:
    check_texts(body.texts, max_texts=MAX_TEXTS, max_chars=MAX_CHARS)
    served = await _served(svc, name, "sentiment")
    logits, _ = await _infer(request, svc, served, body.texts)
    lexicon = await run_in_threadpool(lexicon_sentiment, body.texts)
    labels = served.contract.labels
    results = []
    for row, lex in zip(softmax(logits), lexicon, strict=True):
        best = int(row.argmax())
        scores = {label: float(p) for label, p in zip(labels, row, strict=True)}
        results.append(Sentiment(label=labels[best], confidence=float(row[best]), scores=scores, lexicon=lex))
    return SentimentResponse(
        model=name, version=served.version, weights=stamp(response, served), results=results
    )


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
    served = await _served(svc, name, "nli")
    entailment = served.contract.entailment_index
    if entailment is None:
        raise NotFoundError(f"model '{name}' does not say which logit is entailment; re-export it")
    pairs = [(body.text, body.hypothesis_template.format(label)) for label in body.labels]
    logits, _ = await _infer(request, svc, served, pairs)
    scores = zero_shot_scores(logits, entailment, multi_label=body.multi_label)
    order = np.argsort(-scores)
    return ZeroShotResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
        sequence=body.text,
        labels=[body.labels[i] for i in order],
        scores=[float(scores[i]) for i in order],
    )


@router.post("/{name}/entities", response_model=EntitiesResponse, summary="Named entities as character spans")
async def entities(
    request: Request, response: Response, svc: Svc, name: ModelName, body: TextRequest
) -> EntitiesResponse:
    check_texts([body.text], max_texts=1, max_chars=MAX_CHARS)
    served = await _served(svc, name, "ner")
    logits, encodings = await _infer(request, svc, served, [body.text])
    spans: list[Entity] = entity_spans(body.text, encodings[0], logits[0], served.contract.labels)
    return EntitiesResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
        entities=[EntityOut(**vars(s)) for s in spans],
    )


@router.post(
    "/{name}/embeddings", response_model=EmbeddingsResponse, summary="Sentence embeddings (unit vectors)"
)
async def embeddings(
    request: Request, response: Response, svc: Svc, name: ModelName, body: TextsRequest
) -> EmbeddingsResponse:
    check_texts(body.texts, max_texts=MAX_TEXTS, max_chars=MAX_CHARS)
    served = await _served(svc, name, "embeddings")
    vectors, _ = await _infer(request, svc, served, body.texts)
    return EmbeddingsResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
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
    served = await _served(svc, name, "embeddings")
    vectors, _ = await _infer(request, svc, served, [body.query, *body.candidates])
    sims = cosine(vectors[:1], vectors[1:])[0]
    order = np.argsort(-sims)
    return SimilarityResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
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
    served = await _served(svc, name, "embeddings")
    candidates = keyword_candidates(body.text, MAX_TEXTS - 1)
    if not candidates:
        raise UnprocessableError("the text has no words to take keywords from")
    vectors, _ = await _infer(request, svc, served, [body.text, *candidates])
    relevance = cosine(vectors[1:], vectors[:1])[:, 0]
    chosen = select_keywords(vectors[0], vectors[1:], body.top_k)
    chosen.sort(key=lambda i: -relevance[i])  # MMR picks for variety; the answer ranks by relevance
    return KeywordsResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
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
    served = await _served(svc, name, "embeddings")
    sentences = split_sentences(body.text)[:MAX_TEXTS]
    sentences = [s for s in sentences if any(c.isalnum() for c in s)]  # "." alone is no sentence
    if not sentences:
        raise UnprocessableError("the text has no sentences with words to summarise")
    if len(sentences) > body.sentences:
        vectors, _ = await _infer(request, svc, served, sentences)
        sentences = [sentences[i] for i in central_sentences(vectors, body.sentences)]
    return SummaryResponse(
        model=name,
        version=served.version,
        weights=stamp(response, served),
        summary=" ".join(sentences),
        sentences=sentences,
    )
