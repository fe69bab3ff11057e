"""The API's own routes: liveness, readiness (of Triton, the models asked about, the monitoring
store), and the models Triton knows with their weights' provenance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from modelserve.contracts.provenance import Provenance, WeightsOrigin
from modelserve.serve.supervisor import Status
from modelserve.serving.errors import UnavailableError, UnprocessableError
from modelserve.serving.services import Svc

READY_TIMEOUT_S = 0.8
MAX_READY_MODELS = 64
TritonStatus = Callable[[], Status]  # the embedded Triton's supervisor, under `modelserve up`

router = APIRouter()


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str  # ready, or degraded while the monitoring store fails (answers go on)
    triton: str  # the Triton endpoint the API calls
    models: list[str]  # the models asked about, all ready
    monitoring: str  # off, ok, or what happened to the store (serving goes on either way)
    replicas: dict[str, bool] | None = None  # per Triton replica, when the URL names several


class ModelState(BaseModel):
    name: str
    version: str
    state: str  # Triton's: READY, UNAVAILABLE, LOADING, UNLOADING
    reason: str
    weights: WeightsOrigin = "unknown"  # where the weights came from; random: answers mean nothing
    provenance: Provenance | None = None  # the contract's record (source, sha256); None without one


class ModelsResponse(BaseModel):
    models: list[ModelState]


def _status(request: Request) -> TritonStatus | None:
    status: TritonStatus | None = getattr(request.app.state, "triton_status", None)
    return status


@router.get("/health", response_model=Health, summary="Liveness: the API process answers")
async def health() -> Health:
    # Not Triton's: a restarting Triton is readiness's business (a liveness failure would have
    # the orchestrator kill an API that is fine and will serve again when Triton is back).
    return Health(status="ok")


@router.get(
    "/ready", response_model=Ready, summary="Triton is reachable and ready, and so are the models asked about"
)
async def ready(
    request: Request,
    svc: Svc,
    models: str = "",
    monitoring: Annotated[
        Literal["optional", "required"],
        Query(description="required: 503 while the monitoring store is failing"),
    ] = "optional",
) -> Ready:
    wanted = list(dict.fromkeys(m for m in models.split(",") if m))  # each name once
    if len(wanted) > MAX_READY_MODELS:
        raise UnprocessableError(f"models: {len(wanted)} names; the limit is {MAX_READY_MODELS}")
    url = svc.settings.triton_url
    status = _status(request)
    if status is not None:
        state, reason, _ = status()
        if state != "ready":
            raise UnavailableError(f"Triton at {url} is {state}: {reason}")
    # A probe answers within ~1 s, whatever state Triton is in (a hung server included).
    replicas = None
    if svc.triton.balanced:  # ready while one replica answers; the count says how many do
        replicas = await svc.triton.replica_status(timeout_s=READY_TIMEOUT_S)
        if not any(replicas.values()):
            raise UnavailableError(f"no Triton replica at {url} is ready (0/{len(replicas)})")
    elif not await svc.triton.is_server_ready(timeout_s=READY_TIMEOUT_S):
        raise UnavailableError(f"Triton at {url} is not ready")
    answers = await asyncio.gather(  # together, so the probe still answers within ~1 s
        *(svc.triton.is_model_ready(m, timeout_s=READY_TIMEOUT_S) for m in wanted)
    )
    missing = [m for m, ok in zip(wanted, answers, strict=True) if not ok]
    if missing:
        raise UnavailableError(f"models not ready: {', '.join(missing)}")
    health = svc.monitor.store_health if svc.monitor is not None else None
    if health is not None and not health.ok and monitoring == "required":
        raise UnavailableError(f"monitoring store {health.status}")
    # A failing store costs records, not answers: "degraded", not 503, unless asked (a probe that
    # failed on it would take every replica out of service for a monitoring outage).
    return Ready(
        status="ready" if health is None or health.ok else "degraded",
        triton=url,
        models=wanted,
        monitoring=health.status if health is not None else "off",
        replicas=replicas,
    )


@router.get(
    "/v1/models",
    response_model=ModelsResponse,
    summary="Models Triton knows, with versions, states and where their weights came from",
)
async def models(svc: Svc) -> ModelsResponse:
    states = []
    for e in await svc.triton.repository_index():
        provenance = svc.catalog.provenance(e.name, e.version)
        weights: WeightsOrigin = provenance.weights if provenance is not None else "unknown"
        states.append(
            ModelState(
                name=e.name,
                version=e.version,
                state=e.state,
                reason=e.reason,
                weights=weights,
                provenance=provenance,
            )
        )
    return ModelsResponse(models=states)
