"""Where a request's time goes: Triton calls are timed by the gateway (``api.gateway``), the rest is
the API's own work (decoding, preprocessing, postprocessing). The metrics middleware reports both
in a ``Server-Timing`` header (milliseconds) and in the metrics, so clients and benchmarks can
split the latency."""

from __future__ import annotations


def server_timing(total_s: float, triton_s: float) -> str:
    api_s = max(total_s - triton_s, 0.0)
    return f"total;dur={total_s * 1e3:.3f}, triton;dur={triton_s * 1e3:.3f}, api;dur={api_s * 1e3:.3f}"


__all__ = ["server_timing"]
