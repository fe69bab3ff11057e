"""Where a request's time goes: Triton calls are timed here, the rest is the API's own work
(decoding, preprocessing, postprocessing). The middleware reports both in a ``Server-Timing``
header (milliseconds) and in the metrics, so clients and benchmarks can split the latency."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
from fastapi import Request

from client import ModelNotFoundError, ModelNotReadyError


async def infer(
    request: Request,
    model: str,
    inputs: Mapping[str, np.ndarray],
    *,
    outputs: Sequence[str] | None = None,
    version: str = "",
    coalesce: bool = False,
) -> dict[str, np.ndarray]:
    """``app.state.triton.infer`` with its duration added to the request's Triton time.
    ``coalesce``: the rows are independent, so the call may share a Triton request with others
    (``api.coalesce``) when the app has a coalescer."""
    start = time.perf_counter()
    coalescer = getattr(request.app.state, "coalescer", None) if coalesce else None
    call = coalescer.infer if coalescer is not None else request.app.state.triton.infer
    try:
        try:
            result: dict[str, np.ndarray] = await call(model, inputs, outputs=outputs, version=version)
        except (ModelNotFoundError, ModelNotReadyError):
            # The cached served version may just have been switched and unloaded (a promotion
            # or rollback): look it up again, and if it changed, the request goes to the new one.
            catalog = request.app.state.catalog
            catalog.forget(model)
            if not version:
                raise
            served = await catalog.served(request.app.state.triton, model)
            if served.version == version:
                raise
            result = await call(model, inputs, outputs=outputs, version=served.version)
            version = served.version
        request.state.triton_version = version  # the version that answered, after any retry
        return result
    finally:
        request.state.triton_s = getattr(request.state, "triton_s", 0.0) + time.perf_counter() - start


def server_timing(total_s: float, triton_s: float) -> str:
    api_s = max(total_s - triton_s, 0.0)
    return f"total;dur={total_s * 1e3:.3f}, triton;dur={triton_s * 1e3:.3f}, api;dur={api_s * 1e3:.3f}"


__all__ = ["infer", "server_timing"]
