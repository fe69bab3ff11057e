"""Prometheus metrics of the API: requests and latency per route and model, Triton errors by kind.

Each app has its own registry (tests create many apps; one process-wide registry would refuse the
second set of metrics)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelserve.api.timing import server_timing

UNKNOWN_MODEL = "(unknown)"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ScrapedGauges(Collector):
    """Gauges computed when ``/metrics`` is scraped (the store's losses, the supervisor's restart
    counts). A collector, not ``Gauge.set_function``: in multiprocess mode a Gauge also writes a
    value file, and the scrape would show each of these twice."""

    def __init__(self) -> None:
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def add(self, name: str, help: str, read: Callable[[], float]) -> None:
        self._gauges[name] = (help, read)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (help, read) in list(self._gauges.items()):
            yield GaugeMetricFamily(name, help, value=read())


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
        # Values read when scraped (from this process: the same in every API worker).
        self.scraped = ScrapedGauges()
        self.registry.register(self.scraped)
        # Whether a name in a URL is a model the API served (set in the lifespan). Anyone can put
        # any name in a URL; labelling by it grew ~19 series per invented name, without bound.
        self.known_model: Callable[[str], bool] = lambda _: False

    def model_label(self, name: str) -> str:
        return name if not name or self.known_model(name) else UNKNOWN_MODEL


class MetricsMiddleware:
    """Counts, times and stamps ``Server-Timing`` on every HTTP response. A plain ASGI middleware:
    Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) costs a task and a memory stream per
    request, a measurable share of a sub-millisecond route."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = time.perf_counter() - start
                triton = float(scope.get("state", {}).get("triton_s", 0.0))
                route = getattr(scope.get("route"), "path", "unmatched")
                params = scope.get("path_params", {})  # model routes say {name}, monitoring {model}
                model = self.metrics.model_label(str(params.get("name") or params.get("model") or ""))
                self.metrics.requests.labels(route, model, str(message["status"])).inc()
                self.metrics.latency.labels(route, model).observe(total)
                if triton:
                    self.metrics.triton_latency.labels(route, model).observe(triton)
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", server_timing(total, triton).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


def install_metrics(app: FastAPI) -> ApiMetrics:
    metrics = ApiMetrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(_registry(metrics)), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _registry(metrics: ApiMetrics) -> CollectorRegistry:
    """Several API worker processes (``--api-workers``, and ``up``) share their counters through
    files in PROMETHEUS_MULTIPROC_DIR: any worker answers for all of them, with its own scraped
    gauges beside them."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return metrics.registry
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(metrics.scraped)
    return registry
