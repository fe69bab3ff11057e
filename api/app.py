"""``create_app(settings)``: the FastAPI front. Operational routes here; inference routes live in
their own modules (api/tabular.py, ...) as routers over plain pre/post-processing functions."""

from __future__ import annotations

import gc
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import APIKeyHeader

from api import detection, enhance, monitoring, recommendations, tabular, text, vision
from api.catalog import Catalog
from api.coalesce import Coalescer
from api.errors import ApiError, UnauthorizedError, UnavailableError, install_handlers
from api.limits import BodyLimitMiddleware
from api.metrics import install_metrics
from api.settings import ApiSettings
from client import AsyncTritonClient, ClientError
from monitor.live import Hub
from monitor.policy import load_policy
from monitor.service import Monitor
from monitor.store import Store

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # grpc.aio channels belong to the loop that made them: create the client inside it.
        app.state.triton = AsyncTritonClient(
            settings.triton_url, protocol=settings.triton_protocol, timeout_s=settings.request_timeout_s
        )
        if settings.coalesce_max_rows > 0:
            app.state.coalescer = Coalescer(
                app.state.triton.infer,
                max_rows=settings.coalesce_max_rows,
                max_inflight=settings.coalesce_max_inflight,
            )
        if settings.monitoring:
            app.state.monitor = _monitor(app, settings)
            app.state.monitor.start()
        # Everything imported and built by now lives as long as the process: move it out of the
        # collector's sight. Without this a full collection walked the whole heap (numpy, pandas,
        # OpenCV, tokenizers...) and stalled every in-flight request ~50 ms, twice a second at
        # 1,300 req/s (measured here).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if settings.monitoring:
                await app.state.monitor.stop()
            await app.state.triton.close()

    async def require_key(key: str | None = Depends(_api_key_header)) -> None:
        if settings.api_key and not (key and hmac.compare_digest(key, settings.api_key)):
            raise UnauthorizedError("missing or wrong X-API-Key header")

    app = FastAPI(title="modelserve", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.catalog = Catalog(settings.repository, versions_ttl_s=settings.versions_ttl_s)
    app.state.metrics = install_metrics(app)
    install_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["Server-Timing"],
        )

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    @app.get("/health", summary="The API process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Triton is reachable and ready, and so are the models asked about")
    async def ready(request: Request, models: str = "") -> dict[str, Any]:
        triton: AsyncTritonClient = request.app.state.triton
        if not await triton.is_server_ready():
            raise UnavailableError(f"Triton at {settings.triton_url} is not ready")
        wanted = [m for m in models.split(",") if m]
        missing = [m for m in wanted if not await triton.is_model_ready(m)]
        if missing:
            raise UnavailableError(f"models not ready: {', '.join(missing)}")
        return {"status": "ready", "triton": settings.triton_url, "models": wanted}

    @app.get(
        "/v1/models",
        summary="Models Triton knows, with versions and states",
        dependencies=[Depends(require_key)],
    )
    async def models(request: Request) -> dict[str, Any]:
        triton: AsyncTritonClient = request.app.state.triton
        entries = await triton.repository_index()
        return {
            "models": [
                {"name": e.name, "version": e.version, "state": e.state, "reason": e.reason} for e in entries
            ]
        }

    routers = (
        tabular.router,
        vision.router,
        detection.router,
        enhance.router,
        text.router,
        recommendations.router,
        monitoring.router,
    )
    for router in routers:
        app.include_router(router, dependencies=[Depends(require_key)])
    app.include_router(monitoring.ws_router)  # checks the key itself (browsers send no headers)
    return app


def _monitor(app: FastAPI, settings: ApiSettings) -> Monitor:
    """The monitor over the configured store and policy; a wrong URL or policy fails start-up."""
    catalog: Catalog = app.state.catalog

    async def served_version(name: str) -> str | None:
        try:
            return (await catalog.served(app.state.triton, name)).version
        except (ApiError, ClientError):
            return None

    return Monitor(
        Store(settings.monitoring_url),
        load_policy(settings.monitoring_policy),
        repository=settings.repository,
        triton_url=settings.triton_url,
        triton_protocol=settings.triton_protocol,
        served_version=served_version,
        hub=Hub(),
        flush_s=settings.monitoring_flush_s,
        check_s=settings.monitoring_check_s,
        tick_s=settings.monitoring_tick_s,
    )
