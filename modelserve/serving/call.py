"""One request's way through the serving path, the same for every family's route:

    catalog     the served version and its contract, of the kind the route serves (404 otherwise)
    gateway     Triton (coalesced where rows are independent; after a version switch the retry lands
                on the new served version)
    stamping    the version that answered and its weights' provenance, in the ``modelserve-weights``
                header and the answer's ``model``/``version``/``weights`` fields (``ModelAnswer``)
    monitoring  the family's record of the prediction, when monitoring is on

A route opens a ``Call`` (``Call.open``, or the ``call_for(Kind)`` dependency), infers through it,
records what its family records, and builds its answer with ``call.answer(ResponseModel, ...)``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, Generic, TypeVar

import numpy as np
from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field

from modelserve.contracts.model import ContractBase
from modelserve.contracts.provenance import WeightsOrigin
from modelserve.serving.catalog import Served
from modelserve.serving.gateway import Inferred
from modelserve.serving.params import ModelName
from modelserve.serving.services import Services, get_services

WEIGHTS_HEADER = "modelserve-weights"
C = TypeVar("C", bound=ContractBase)
A = TypeVar("A", bound="ModelAnswer")
Feed = Mapping[str, np.ndarray]

Weights = Annotated[
    WeightsOrigin,
    Field(description="where the model's weights came from; random: the answer means nothing (tests, demos)"),
]


class ModelAnswer(BaseModel):
    """What every model route's answer starts with."""

    model: str
    version: str = Field(description="the version that computed this answer")
    weights: Weights


class Call(Generic[C]):
    def __init__(self, svc: Services, request: Request, response: Response, served: Served[C]) -> None:
        self.svc, self.request, self.response = svc, request, response
        self.served = served  # the version that answered (the resolved one until an inference says)
        self.started = time.perf_counter()

    @classmethod
    async def open(
        cls, svc: Services, request: Request, response: Response, name: str, kind: type[C]
    ) -> Call[C]:
        return cls(svc, request, response, await svc.catalog.served(name, kind))

    @property
    def name(self) -> str:
        return self.served.name

    @property
    def version(self) -> str:
        return self.served.version

    @property
    def contract(self) -> C:
        return self.served.contract

    async def max_batch(self) -> int:
        return await self.svc.catalog.max_batch(self.served)

    async def infer(
        self, inputs: Feed, *, outputs: Sequence[str] | None = None, coalesce: bool = False
    ) -> dict[str, np.ndarray]:
        """One Triton call. When the gateway's retry landed on another version (a switch), that
        version's contract is the one this answer is stamped with."""
        got = await self.svc.gateway.infer(
            self.request, self.name, inputs, outputs=outputs, version=self.version, coalesce=coalesce
        )
        if got.version != self.version:
            self.served = self.svc.catalog.served_at(self.name, got.version, type(self.contract))
        return got.outputs

    async def infer_rows(
        self,
        feed: Feed,
        *,
        outputs: Sequence[str] | None = None,
        coalesce: bool = False,
        in_turn: int = 0,
        again: bool = True,
    ) -> dict[str, np.ndarray]:
        """Rows beyond the model's max batch size go as several Triton requests, sent together so
        Triton's batcher takes them at once; outputs concatenated in order. ``in_turn``: parts of
        at most that many rows, one after another, for heavy rows (long texts): a request cancelled
        when its client leaves then stops within one part. If a switch happened between the parts,
        they are asked again of the version that answered last: one answer never mixes versions."""
        rows = len(next(iter(feed.values())))
        limit = await self.max_batch()
        step = limit if 0 < limit < rows else rows
        step = min(step, in_turn) if in_turn > 0 else step
        parts = [{k: v[i : i + step] for k, v in feed.items()} for i in range(0, rows, step)]

        def one(part: Feed) -> Awaitable[Inferred]:
            gateway = self.svc.gateway
            return gateway.infer(
                self.request, self.name, part, outputs=outputs, version=self.version, coalesce=coalesce
            )

        got = [await one(p) for p in parts] if in_turn > 0 else await asyncio.gather(*map(one, parts))
        if len({g.version for g in got}) > 1 or got[-1].version != self.version:
            self.served = self.svc.catalog.served_at(self.name, got[-1].version, type(self.contract))
            if len({g.version for g in got}) > 1 and again:
                return await self.infer_rows(
                    feed, outputs=outputs, coalesce=coalesce, in_turn=in_turn, again=False
                )
        keys = got[0].outputs.keys()
        return {k: np.concatenate([g.outputs[k] for g in got]) for k in keys}

    def record(
        self, predictions: Sequence[str], confidences: Sequence[float], features: np.ndarray | None = None
    ) -> list[str] | None:
        """The monitoring hook: one record per prediction, under the version that answered; their
        ids (for feedback), or None when monitoring is off. ``features``: the rows the model saw
        (drift detection compares them with the version's reference sample), when the family has
        a fixed feature vector."""
        monitor = self.svc.monitor
        if monitor is None:
            return None
        rows = features if features is not None else np.empty((len(predictions), 0), np.float32)
        latency_ms = (time.perf_counter() - self.started) * 1e3
        return monitor.record(self.name, self.version, rows, predictions, confidences, latency_ms)

    def answer(self, cls: type[A], **fields: Any) -> A:
        """The answer, stamped with the version that computed it and its weights' provenance (also
        in the ``modelserve-weights`` header)."""
        weights = self.contract.provenance.weights
        self.response.headers[WEIGHTS_HEADER] = weights
        return cls(model=self.name, version=self.version, weights=weights, **fields)


def call_for(kind: type[C]) -> Callable[..., Awaitable[Call[C]]]:
    """A dependency opening a ``Call`` for the ``{name}`` path parameter, of ``kind``."""

    async def open_call(
        request: Request,
        response: Response,
        name: ModelName,
        svc: Annotated[Services, Depends(get_services)],
    ) -> Call[C]:
        return await Call.open(svc, request, response, name, kind)

    return open_call


__all__ = ["WEIGHTS_HEADER", "Call", "ModelAnswer", "Weights", "call_for"]
