"""What the API builds when it starts and closes when it stops: the Triton client, the catalog over
the repository (reading contracts as the families' classes), the gateway, the monitor, and each
family's start-up work."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from modelserve.api.metrics import ApiMetrics
from modelserve.client import AsyncTritonClient, ClientError
from modelserve.contracts.model import ContractSet
from modelserve.families import Family
from modelserve.monitor.live import Hub
from modelserve.monitor.policy import load_policy
from modelserve.monitor.relay import relay_for
from modelserve.monitor.service import Monitor
from modelserve.monitor.store import Store
from modelserve.repository import ModelRepository
from modelserve.serving.budget import PixelBudget
from modelserve.serving.catalog import Catalog
from modelserve.serving.coalesce import Coalescer
from modelserve.serving.errors import ApiError
from modelserve.serving.gateway import Gateway
from modelserve.serving.services import Services
from modelserve.serving.settings import ApiSettings

logger = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan(settings: ApiSettings, families: Sequence[Family]) -> Lifespan:
    contracts = ContractSet((c for f in families for c in f.contracts), strict=True)

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        metrics: ApiMetrics = app.state.metrics
        # grpc.aio channels belong to the loop that made them: create the client inside it.
        triton = AsyncTritonClient(
            settings.triton_url,
            protocol=settings.triton_protocol,
            timeout_s=settings.request_timeout_s,
            control_key=settings.control_key,
        )
        repository = ModelRepository(settings.repository, contracts=contracts)
        catalog = Catalog(repository, triton, versions_ttl_s=settings.versions_ttl_s)
        metrics.known_model = catalog.known.__contains__
        for line in repository.random_warnings():  # once per start: their answers look real
            logger.warning("%s", line)
        services = Services(
            settings=settings,
            catalog=catalog,
            gateway=Gateway(catalog, _coalescer(triton, settings), timeout_s=settings.request_timeout_s),
            pixels=PixelBudget(max(settings.max_decode_pixels, settings.max_image_pixels)),
        )
        if settings.monitoring:
            monitor = services.monitor = _monitor(catalog, settings)
            monitor.start()
            health = monitor.store_health
            for name, help, read in (
                (
                    "store_losses",
                    "Times the store was found deleted or replaced and recreated",
                    lambda: health.losses,
                ),
                (
                    "store_up",
                    "1 while every kind of store call works, 0 while one keeps failing",
                    lambda: health.ok,
                ),
                ("store_failures", "Monitoring store calls that failed since start", lambda: health.failures),
                ("records_waiting", "Prediction records waiting for the store", lambda: monitor.backlog),
                (
                    "records_dropped",
                    "Prediction records not kept: the buffer was full",
                    lambda: monitor.dropped,
                ),
            ):
                metrics.scraped.add(f"modelserve_monitoring_{name}", help, read)
        app.state.services = services
        loop = asyncio.get_running_loop()
        warming = [loop.run_in_executor(None, f.warm) for f in families if f.warm is not None]
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
            for warm in warming:
                with contextlib.suppress(Exception):  # a failed warm-up shows on its own route
                    await warm

    return run


def _coalescer(triton: AsyncTritonClient, settings: ApiSettings) -> Coalescer | None:
    if settings.coalesce_max_rows <= 0:
        return None
    return Coalescer(
        triton.infer, max_rows=settings.coalesce_max_rows, max_inflight=settings.coalesce_max_inflight
    )


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
        repository=catalog.repository,
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
