"""Prometheus metrics of the API: requests and latency per route and model, Triton errors by kind.

Each app has its own registry (tests create many apps; one process-wide registry would refuse the
second set of metrics)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from api.timing import server_timing, triton_seconds

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelserve_requests", "API requests", ["route", "model", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "modelserve_request_seconds",
            "API request latency",
            ["route", "model"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.triton_latency = Histogram(
            "modelserve_triton_seconds",
            "Time in Triton calls per request",
            ["route", "model"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.triton_errors = Counter(
            "modelserve_triton_errors",
            "Triton calls that failed, by error kind",
            ["kind"],
            registry=self.registry,
        )


def install_metrics(app: FastAPI) -> ApiMetrics:
    metrics = ApiMetrics()

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        total = time.perf_counter() - start
        triton = triton_seconds(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        model = str(request.path_params.get("name", "")) if hasattr(request, "path_params") else ""
        metrics.requests.labels(route, model, str(response.status_code)).inc()
        metrics.latency.labels(route, model).observe(total)
        if triton:
            metrics.triton_latency.labels(route, model).observe(triton)
        response.headers["Server-Timing"] = server_timing(total, triton)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
