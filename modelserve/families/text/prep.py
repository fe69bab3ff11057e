"""Plain text pre/post-processing for the text routes: tokenising with the exported tokenizer,
softmax, zero-shot scoring from NLI logits, entity spans from token logits, cosine similarity.

The arithmetic follows transformers' own pipelines (zero-shot classification, token
classification with aggregation "simple"), so the served answers can be checked against them.
"""

from __future__ import annotations

import itertools
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from modelserve.serving.errors import PayloadTooLargeError, UnprocessableError
from modelserve.serving.params import unicode_text


def load_tokenizer(directory: Path, max_length: int) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")  # to the longest
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def hypothesis_template(value: str) -> str:
    """Exactly one bare ``{}`` where the label goes; ``{0}``, ``{name}`` or a stray brace would make
    ``str.format`` fail or read something else, and a format spec (``{:>99999999}``) would pad each
    label to any size before tokenising."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        raise ValueError(f"hypothesis_template is not a template: {exc}") from exc
    if fields != [("", "", None)]:
        raise ValueError(
            "hypothesis_template must contain '{}' exactly once, with no format spec or conversion "
            "and no other {...} field"
        )
    return unicode_text(value)


MAX_TOTAL_CHARS = 100_000  # all texts of one request together: 413 beyond


def check_texts(
    texts: Sequence[str], *, max_texts: int, max_chars: int, max_total: int = MAX_TOTAL_CHARS
) -> None:
    if not texts:
        raise UnprocessableError("no texts given")
    total = sum(map(len, texts))
    if total > max_total:
        raise PayloadTooLargeError(f"the texts hold {total} characters together; the limit is {max_total}")
    if len(texts) > max_texts:
        raise UnprocessableError(f"{len(texts)} texts in one request; the limit is {max_texts}")
    for i, text in enumerate(texts):
        if not text.strip():
            raise UnprocessableError(f"text {i} is empty")
        if len(text) > max_chars:
            raise UnprocessableError(f"text {i} has {len(text)} characters; the limit is {max_chars}")
        try:
            unicode_text(text)
        except ValueError as exc:
            raise UnprocessableError(f"text {i} is {exc}") from exc


def tensors(encodings: Sequence[Encoding], inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """The model's inputs (only those it declares) as int64 [N, L]."""
    fields = {
        "input_ids": [e.ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
    }
    return {name: np.asarray(fields[name], dtype=np.int64) for name in inputs}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True))


def zero_shot_scores(logits: np.ndarray, entailment: int, *, multi_label: bool) -> np.ndarray:
    """``logits`` [labels, 3] for (text, hypothesis_i) pairs -> one score per candidate label."""
    if multi_label or len(logits) == 1:
        contradiction = -1 if entailment == 0 else 0
        pair = logits[:, [contradiction, entailment]]
        return softmax(pair)[:, 1]
    return softmax(logits[:, entailment])


@dataclass(frozen=True, kw_only=True)
class Entity:
    entity: str
    text: str
    start: int
    end: int
    score: float


def _tag(label: str) -> tuple[str, str]:
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


def entity_spans(text: str, encoding: Encoding, logits: np.ndarray, labels: Sequence[str]) -> list[Entity]:
    """Token predictions grouped into spans with character offsets (B-/I- tags; "O" dropped)."""
    probabilities = softmax(logits)
    tokens: list[dict[str, Any]] = []
    for i, (start, end) in enumerate(encoding.offsets):
        if encoding.special_tokens_mask[i] or not encoding.attention_mask[i]:
            continue
        best = int(probabilities[i].argmax())
        tokens.append(
            {"label": labels[best], "score": float(probabilities[i, best]), "start": start, "end": end}
        )
    groups: list[list[dict[str, Any]]] = []
    for token in tokens:
        bi, tag = _tag(token["label"])
        if groups and bi != "B" and _tag(groups[-1][-1]["label"])[1] == tag:
            groups[-1].append(token)
        else:
            groups.append([token])
    spans = []
    for group in groups:
        tag = _tag(group[0]["label"])[1]
        if tag == "O":
            continue
        start, end = group[0]["start"], group[-1]["end"]
        score = float(np.mean([t["score"] for t in group]))
        spans.append(Entity(entity=tag, text=text[start:end], start=start, end=end, score=score))
    return spans


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.asarray(a @ b.T)


STOPWORDS = frozenset(
    "a an and are as at be been but by for from has have he her his i in into is it its me my no not of on "
    "or our she so than that the their them then there these they this to too us was we were what when which "
    "who will with you your yesterday today".split()
)
# A letter of any script, then letters, digits, ' and -: "w0" stays whole, Greek or CJK are words too.
_WORD = re.compile(r"[^\W\d_][\w'-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Sentence ends and clause marks, with the CJK full-width ones (、。！，：；？).
_CLAUSE_BREAK = re.compile(
    r"[.!?;:,()\[\]{}\"\u2014\u2013\u3001\u3002\uff01\uff0c\uff1a\uff1b\uff1f]+|\s-\s|\n{2,}"
)


def keyword_candidates(text: str, limit: int) -> list[str]:
    """Lower-cased words and two-word phrases without stopwords, most frequent first. A phrase
    never spans a sentence end or a clause mark (``,;:`` and brackets): "rain. Markets" is not one."""
    grams: list[str] = []
    for clause in _CLAUSE_BREAK.split(text):
        words = [w.lower() for w in _WORD.findall(clause)]
        grams += [w for w in words if w not in STOPWORDS and len(w) > 2]
        grams += [
            f"{a} {b}" for a, b in itertools.pairwise(words) if a not in STOPWORDS and b not in STOPWORDS
        ]
    counts = Counter(grams)
    return [g for g, _ in counts.most_common(limit)]


def select_keywords(doc: np.ndarray, candidates: np.ndarray, k: int, diversity: float = 0.3) -> list[int]:
    """Maximal marginal relevance: close to the document, not close to keywords already chosen."""
    relevance = cosine(candidates, doc[None, :])[:, 0]
    chosen: list[int] = []
    pairwise_sim = cosine(candidates, candidates)
    while len(chosen) < min(k, len(candidates)):
        redundancy = pairwise_sim[:, chosen].max(axis=1) if chosen else np.zeros(len(candidates))
        score = (1 - diversity) * relevance - diversity * redundancy
        score[chosen] = -np.inf
        chosen.append(int(score.argmax()))
    return chosen


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def central_sentences(embeddings: np.ndarray, n: int) -> list[int]:
    """Indices of the ``n`` sentences closest to the text's centroid, in reading order."""
    centroid = embeddings.mean(axis=0)
    scores = cosine(embeddings, centroid[None, :])[:, 0]
    return sorted(int(i) for i in np.argsort(-scores)[:n])
