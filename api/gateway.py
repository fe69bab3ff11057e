"""The routes' way to Triton: one inference call, coalesced with others where the rows are
independent (``api.coalesce``), retried once on the new served version when a version switch
unloaded the one the catalog had cached, and timed into the request's ``Server-Timing``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

import numpy as np
from starlette.requests import HTTPConnection

from modelserve.api.catalog import Catalog
from modelserve.api.coalesce import Coalescer
from modelserve.client import InferenceTimeoutError, ModelNotFoundError, ModelNotReadyError


class Gateway:
    """``timeout_s`` bounds a request's whole way to Triton (merged calls, the retry after a version
    switch): a hung Triton costs a client one timeout, not two."""

    def __init__(
        self, catalog: Catalog, coalescer: Coalescer | None = None, *, timeout_s: float = 30.0
    ) -> None:
        self.catalog = catalog
        self.coalescer = coalescer
        self.timeout_s = timeout_s

    async def infer(
        self,
        request: HTTPConnection,
        model: str,
        inputs: Mapping[str, np.ndarray],
        *,
        outputs: Sequence[str] | None = None,
        version: str = "",
        coalesce: bool = False,
    ) -> dict[str, np.ndarray]:
        """Triton's answer; ``request.state.triton_version`` names the version that computed it
        and ``request.state.triton_s`` accumulates the time spent waiting for Triton."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._infer(request, model, inputs, outputs, version, coalesce)
        except TimeoutError as exc:
            raise InferenceTimeoutError(
                f"infer {model}: no answer from Triton within {self.timeout_s:g} s"
            ) from exc
        finally:
            request.state.triton_s = getattr(request.state, "triton_s", 0.0) + time.perf_counter() - start

    async def _infer(
        self,
        request: HTTPConnection,
        model: str,
        inputs: Mapping[str, np.ndarray],
        outputs: Sequence[str] | None,
        version: str,
        coalesce: bool,
    ) -> dict[str, np.ndarray]:
        call = self.coalescer.infer if coalesce and self.coalescer else self.catalog.triton.infer
        try:
            result: dict[str, np.ndarray] = await call(model, inputs, outputs=outputs, version=version)
        except (ModelNotFoundError, ModelNotReadyError):
            # The cached served version may just have been switched and unloaded (a promotion
            # or rollback): look it up again, and if it changed, the request goes to the new one.
            self.catalog.forget(model)
            if not version:
                raise
            served = await self.catalog.served_version(model)
            if served == version:
                raise
            result = await call(model, inputs, outputs=outputs, version=served)
            version = served
        request.state.triton_version = version
        return result
