"""The routes' way to Triton: one inference call, coalesced with others where the rows are
independent (``modelserve.serving.coalesce``), retried once on the new served version when a
version switch unloaded the one the catalog had cached, and timed into the request's
``Server-Timing``. It returns the version that really answered with the outputs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from starlette.requests import HTTPConnection

from modelserve.client import InferenceTimeoutError, ModelNotFoundError, ModelNotReadyError
from modelserve.serving.catalog import Catalog
from modelserve.serving.coalesce import Coalescer
from modelserve.serving.errors import NotFoundError


@dataclass(frozen=True)
class Inferred:
    outputs: dict[str, np.ndarray]
    version: str  # the version that computed them (after a retry, the new served one)


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
    ) -> Inferred:
        """Triton's answer and the version that computed it; ``request.state.triton_s`` accumulates
        the time spent waiting for Triton (the metrics middleware reports it)."""
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._infer(model, inputs, outputs, version, coalesce)
        except TimeoutError as exc:
            raise InferenceTimeoutError(
                f"infer {model}: no answer from Triton within {self.timeout_s:g} s"
            ) from exc
        except ModelNotFoundError as exc:  # its text names our call ("infer m version 2: ...")
            which = f"model '{model}'" + (f" version {version}" if version else "")
            raise NotFoundError(f"{which} is not served") from exc
        finally:
            request.state.triton_s = getattr(request.state, "triton_s", 0.0) + time.perf_counter() - start

    async def _infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        outputs: Sequence[str] | None,
        version: str,
        coalesce: bool,
    ) -> Inferred:
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
        return Inferred(outputs=result, version=version)
