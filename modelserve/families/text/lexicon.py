"""Lexicon sentiment beside a model's label: polarity (-1 negative .. 1 positive) and subjectivity
(0 objective .. 1 subjective) from TextBlob's pattern lexicon, as the original sentiment service
answered. The lexicon (``en-sentiment.xml``) ships inside the textblob package: nothing downloads.

TextBlob's import pulls in NLTK (~1 s) and the lexicon parses once (~0.5 s): ``warm`` does both in
a worker thread at API start, so no request waits for them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field


class LexiconSentiment(BaseModel):
    polarity: float = Field(ge=-1.0, le=1.0)
    subjectivity: float = Field(ge=0.0, le=1.0)


_lock = threading.Lock()
_analyzer: Callable[[str], tuple[float, float]] | None = None


def _load() -> Callable[[str], tuple[float, float]]:
    global _analyzer
    with _lock:
        if _analyzer is None:
            from textblob.en import sentiment  # the pattern analyzer; needs no NLTK corpus

            sentiment("warm")  # parses the XML lexicon now, not on a request
            _analyzer = sentiment
    return _analyzer


def warm() -> None:
    _load()


def lexicon_sentiment(texts: Sequence[str]) -> list[LexiconSentiment]:
    analyze = _load()
    out = []
    for text in texts:
        polarity, subjectivity = analyze(text)
        out.append(LexiconSentiment(polarity=float(polarity), subjectivity=float(subjectivity)))
    return out
