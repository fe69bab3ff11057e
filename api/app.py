"""``create_app(settings)``: the FastAPI front. Operational routes here; inference routes live in
their own modules (api/tabular.py, ...) as routers over plain pre/post-processing functions."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel

from modelserve.api import (
    compat,
    detection,
    enhance,
    lexicon,
    monitoring,
    recommendations,
    tabular,
    text,
    vision,
)
from modelserve.api.auth import ApiKeyMiddleware, document_key, redact
from modelserve.api.budget import PixelBudget
from modelserve.api.catalog import Catalog
from modelserve.api.coalesce import Coalescer
from modelserve.api.errors import (
    ERROR_RESPONSES,
    ApiError,
    UnavailableError,
    UnprocessableError,
    install_handlers,
)
from modelserve.api.gateway import Gateway
from modelserve.api.limits import BodyLimitMiddleware
from modelserve.api.metrics import install_metrics
from modelserve.api.services import Services, Svc
from modelserve.api.settings import ApiSettings
from modelserve.api.weights import WEIGHTS_HEADER
from modelserve.client import AsyncTritonClient, ClientError
from modelserve.contracts.provenance import Provenance, WeightsOrigin
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import load_policy
from modelserve.monitor.relay import relay_for
from modelserve.monitor.service import Monitor
from modelserve.monitor.store import Store
from modelserve.repository import ModelRepository

logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 0.8
MAX_READY_MODELS = 64


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
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


def create_app(
    settings: ApiSettings | None = None, *, triton_status: Callable[[], tuple[str, str]] | None = None
) -> FastAPI:
    """``triton_status``: the supervisor's (state, reason) when the API runs beside an embedded
    Triton it restarts (``modelserve up``): readiness names the reason, liveness fails when the
    supervisor gave up."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # grpc.aio channels belong to the loop that made them: create the client inside it.
        triton = AsyncTritonClient(
            settings.triton_url,
            protocol=settings.triton_protocol,
            timeout_s=settings.request_timeout_s,
            control_key=settings.control_key,
        )
        repository = ModelRepository(settings.repository)
        catalog = Catalog(repository, triton, versions_ttl_s=settings.versions_ttl_s)
        metrics.known_model = catalog.known.__contains__
        for line in repository.random_warnings():  # once per start: their answers look real
            logger.warning("%s", line)
        coalescer = None
        if settings.coalesce_max_rows > 0:
            coalescer = Coalescer(
                triton.infer, max_rows=settings.coalesce_max_rows, max_inflight=settings.coalesce_max_inflight
            )
        services = Services(
            settings=settings,
            catalog=catalog,
            gateway=Gateway(catalog, coalescer, timeout_s=settings.request_timeout_s),
            metrics=metrics,
            pixels=PixelBudget(max(settings.max_decode_pixels, settings.max_image_pixels)),
        )
        if settings.monitoring:
            monitor = services.monitor = _monitor(catalog, settings)
            monitor.start()
            metrics.store_losses.set_function(lambda: monitor.store_health.losses)
        app.state.services = services
        # TextBlob's lexicon for the sentiment route: loaded beside serving, not on a request.
        warming = asyncio.get_running_loop().run_in_executor(None, lexicon.warm)
        # Everything imported and built by now lives as long as the process: move it out of the
        # collector's sight. Without this a full collection walked the whole heap (numpy, pandas,
        # OpenCV, tokenizers...) and stalled every in-flight request ~50 ms, twice a second at
        # 1,300 req/s (measured here).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if services.monitor is not None:
                await services.monitor.stop()
            await triton.close()
            with contextlib.suppress(Exception):  # a failed warm-up shows on the sentiment route
                await warming

    app = FastAPI(
        title="modelserve",
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        **_telemetry(settings.opentelemetry),
    )
    metrics = app.state.metrics = install_metrics(app)  # the middleware exists before the lifespan
    install_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["Server-Timing", WEIGHTS_HEADER],
        )

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, key=settings.api_key)  # added last: runs first
    redact()

    @app.get("/health", response_model=Health, summary="Liveness: the API is up and Triton recoverable")
    async def health() -> Health:
        if triton_status is not None:
            state, reason = triton_status()
            if state == "failed":
                raise UnavailableError(f"Triton cannot be restarted: {reason}")
        return Health(status="ok")

    @app.get(
        "/ready",
        response_model=Ready,
        summary="Triton is reachable and ready, and so are the models asked about",
    )
    async def ready(svc: Svc, models: str = "") -> Ready:
        wanted = list(dict.fromkeys(m for m in models.split(",") if m))  # each name once
        if len(wanted) > MAX_READY_MODELS:
            raise UnprocessableError(f"models: {len(wanted)} names; the limit is {MAX_READY_MODELS}")
        if triton_status is not None:
            state, reason = triton_status()
            if state != "ready":
                raise UnavailableError(f"Triton at {settings.triton_url} is {state}: {reason}")
        # A probe answers within ~1 s, whatever state Triton is in (a hung server included).
        replicas = None
        if svc.triton.balanced:  # ready while one replica answers; the count says how many do
            replicas = await svc.triton.replica_status(timeout_s=READY_TIMEOUT_S)
            if not any(replicas.values()):
                raise UnavailableError(
                    f"no Triton replica at {settings.triton_url} is ready (0/{len(replicas)})"
                )
        elif not await svc.triton.is_server_ready(timeout_s=READY_TIMEOUT_S):
            raise UnavailableError(f"Triton at {settings.triton_url} is not ready")
        answers = await asyncio.gather(  # together, so the probe still answers within ~1 s
            *(svc.triton.is_model_ready(m, timeout_s=READY_TIMEOUT_S) for m in wanted)
        )
        missing = [m for m, ok in zip(wanted, answers, strict=True) if not ok]
        if missing:
            raise UnavailableError(f"models not ready: {', '.join(missing)}")
        monitoring = svc.monitor.store_health.status if svc.monitor is not None else "off"
        return Ready(
            status="ready",
            triton=settings.triton_url,
            models=wanted,
            monitoring=monitoring,
            replicas=replicas,
        )

    @app.get(
        "/v1/models",
        response_model=ModelsResponse,
        summary="Models Triton knows, with versions, states and where their weights came from",
    )
    async def models(svc: Svc) -> ModelsResponse:
        entries = await svc.triton.repository_index()
        states = []
        for e in entries:
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

    routers = (
        tabular.router,
        vision.router,
        detection.router,
        enhance.router,
        text.router,
        recommendations.router,
        monitoring.router,
        compat.router,
    )
    for router in routers:
        app.include_router(router)
    app.include_router(monitoring.ws_router)  # checks the key itself (browsers send no headers)
    document_key(app)
    return app


def _monitor(catalog: Catalog, settings: ApiSettings) -> Monitor:
    """The monitor over the configured store and policy; a wrong URL or policy fails start-up."""

    async def served_version(name: str) -> str | None:
        try:
            return await catalog.served_version(name)
        except (ApiError, ClientError):
            return None

    return Monitor(
        Store(settings.monitoring_url),
        load_policy(settings.monitoring_policy),
        repository=settings.repository,
        triton_url=settings.triton_url,
        triton_protocol=settings.triton_protocol,
        served_version=served_version,
        hub=Hub(relay=relay_for(settings.monitoring_url)),
        flush_s=settings.monitoring_flush_s,
        check_s=settings.monitoring_check_s,
        tick_s=settings.monitoring_tick_s,
        retention_s=settings.monitoring_retention_days * 86400.0,
        max_rows=settings.monitoring_max_predictions,
    )


def _telemetry(enabled: bool) -> dict[str, Any]:
    """FastAPI >= 0.16x asks the OpenTelemetry providers on every request whether to trace
    (~5% of the tabular route's CPU, profiled): off unless asked for (MODELSERVE_OPENTELEMETRY)."""
    if enabled or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
