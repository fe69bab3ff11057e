"""``create_app(settings)``: the FastAPI front, composed. The API's own routes (``api.system``),
every model family's routes (``modelserve.families``), monitoring's; middleware and one error
handler (``modelserve.serving.errors``); what starts and stops with it (``api.lifespan``)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from modelserve.api import monitoring, system
from modelserve.api.auth import ApiKeyMiddleware, document_key, redact
from modelserve.api.disconnect import CancelOnDisconnect
from modelserve.api.lifespan import lifespan
from modelserve.api.limits import BodyLimitMiddleware
from modelserve.api.metrics import install_metrics
from modelserve.api.system import TritonStatus
from modelserve.families import FAMILIES, Family
from modelserve.serving.bodies import json_body_type
from modelserve.serving.call import WEIGHTS_HEADER
from modelserve.serving.errors import ERROR_RESPONSES, install_handlers
from modelserve.serving.settings import ApiSettings


def create_app(
    settings: ApiSettings | None = None,
    *,
    triton_status: TritonStatus | None = None,
    families: Sequence[Family] = FAMILIES,
) -> FastAPI:
    """``triton_status``: the supervisor's status when the API runs beside an embedded Triton it
    restarts (``modelserve up``): readiness names why Triton is down, ``/metrics`` counts the
    restarts."""
    settings = settings or ApiSettings()
    app = FastAPI(
        title="modelserve",
        version="0.1.0",
        lifespan=lifespan(settings, families),
        responses=ERROR_RESPONSES,
        dependencies=[Depends(json_body_type)],  # every JSON route: 415 without a JSON Content-Type
        **_telemetry(settings.opentelemetry),
    )
    app.state.triton_status = triton_status
    app.state.metrics = metrics = install_metrics(app)  # the middleware exists before the lifespan
    if triton_status is not None:
        metrics.scraped.add(
            "modelserve_triton_restarts",
            "Times the embedded Triton was restarted (it exited or stopped answering)",
            lambda: triton_status().restarts,
        )
    install_handlers(app)
    _middleware(app, settings)
    app.include_router(system.router)
    for family in families:
        for router in family.routers():
            app.include_router(router)
    app.include_router(monitoring.router)
    app.include_router(monitoring.ws_router)  # checks the key itself (browsers send no headers)
    document_key(app)
    return app


def _middleware(app: FastAPI, settings: ApiSettings) -> None:
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["Server-Timing", WEIGHTS_HEADER],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CancelOnDisconnect)
    app.add_middleware(ApiKeyMiddleware, key=settings.api_key)  # added last: runs first
    redact()


def _telemetry(enabled: bool) -> dict[str, Any]:
    """FastAPI >= 0.16x asks the OpenTelemetry providers on every request whether to trace
    (~5% of the tabular route's CPU, profiled): off unless asked for (MODELSERVE_OPENTELEMETRY)."""
    if enabled or "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
