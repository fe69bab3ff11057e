"""Transformer text models: sentiment, zero-shot classification (NLI), entities (NER), and sentence
embeddings with the routes built on them (similarity, keywords, summaries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelserve.families.family import Family
from modelserve.families.text.contract import TextContract
from modelserve.families.text.options import TRANSFORMER

if TYPE_CHECKING:
    from fastapi import APIRouter

    from modelserve.serving.catalog import Catalog, Served


def _routers() -> Sequence[APIRouter]:
    from modelserve.families.text import handler

    return (handler.router,)


def _warm() -> None:
    from modelserve.families.text import lexicon

    lexicon.warm()  # TextBlob's lexicon for the sentiment route: loaded beside serving, not on a request


def _classes(served: Served[Any], catalog: Catalog) -> Sequence[str]:
    return tuple(served.contract.labels) if served.contract.task == "sentiment" else ()  # nli: any label


FAMILY = Family(
    name="text",
    summary="texts -> sentiment, zero-shot labels, entities, embeddings (POST /v1/text/{name}/...)",
    contracts=(TextContract,),
    exports=(TRANSFORMER,),
    routers=_routers,
    monitoring="sentiment: each text's label and confidence; zero-shot: the best label and its score; "
    "entities, embeddings and the routes on them: nothing (spans and vectors are no single label "
    "feedback could confirm)",
    feedback_classes=_classes,
    warm=_warm,
)
