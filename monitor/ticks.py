"""Live traffic for subscribers: each answered request notes its latency, and every ``tick_s`` the
requests, rate and latency percentiles per model since the last tick go to the hub, with the
newest of the messages kept for the tick (``Hub.publish_latest``). Nothing is
stored: it is a view of now, for the dashboard."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from modelserve.monitor.live import Hub


class Ticks:
    def __init__(self, hub: Hub, *, tick_s: float) -> None:
        self.hub = hub
        self.tick_s = tick_s
        self._tick: dict[str, list[float]] = defaultdict(list)  # model -> latencies since last tick

    def note(self, model: str, latency_ms: float) -> None:
        self._tick[model].append(latency_ms)

    async def publish_traffic(self) -> None:
        self.hub.flush_latest()  # the newest metrics per model since the last tick
        ticks, self._tick = self._tick, defaultdict(list)
        if not len(self.hub) and self.hub.relay is None:  # nobody here or elsewhere to tell
            return
        for model, latencies in ticks.items():
            p50, p95 = np.percentile(latencies, [50, 95]).tolist()
            self.hub.publish(
                {
                    "type": "traffic",
                    "model": model,
                    "requests": len(latencies),
                    "per_s": len(latencies) / self.tick_s,
                    "latency_ms": {"p50": p50, "p95": p95},
                    "at": time.time(),
                }
            )
