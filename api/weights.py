"""Every model route's answer says where the model's weights came from (``contracts.provenance``):
a ``modelserve-weights`` header (our headers share the ``modelserve-`` prefix, like Triton's
``modelserve-control``) and a ``weights`` field in the JSON. A model with random weights answers
as fluently as a trained one; this is how a client tells them apart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response
from pydantic import Field

from modelserve.api.catalog import Served
from modelserve.contracts.provenance import WeightsOrigin

WEIGHTS_HEADER = "modelserve-weights"

Weights = Annotated[
    WeightsOrigin,
    Field(description="where the model's weights came from; random: the answer means nothing (tests, demos)"),
]


def stamp(response: Response, served: Served[Any]) -> WeightsOrigin:
    """Put the served version's provenance in the answer's header; returns it for the JSON field."""
    weights: WeightsOrigin = served.contract.provenance.weights
    response.headers[WEIGHTS_HEADER] = weights
    return weights


__all__ = ["WEIGHTS_HEADER", "Weights", "stamp"]
