"""Keep one embedded Triton serving: restart it after it exits or stops answering.

A watcher thread probes the server every ``probe_s``: the process must be alive and answer
``/v2/health/live`` within ``probe_timeout_s``. A dead process is restarted at once; one that stops
answering for ``hang_after_s`` (a hang, or SIGSTOP) is killed and restarted. Each restart kills the
dead server's whole process group (its Python-backend stubs) and removes its shared-memory files,
then starts a new server on the same ports with the same control key. Restarts back off (1, 2,
4 ... s); more than ``max_restarts`` within ``window_s`` and the supervisor gives up: ``state`` is
``failed`` and ``on_failed`` is called (``modelserve up`` then stops with the reason).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Literal

from modelserve.serve.errors import ServeError
from modelserve.serve.server import EmbeddedTriton, Endpoints
from modelserve.serve.settings import ServerSettings

logger = logging.getLogger(__name__)
State = Literal["starting", "ready", "restarting", "failed", "stopped"]


class Supervisor:
    def __init__(
        self,
        settings: ServerSettings,
        *,
        probe_s: float = 0.5,
        probe_timeout_s: float = 1.0,
        hang_after_s: float = 3.0,
        max_restarts: int = 5,
        window_s: float = 300.0,
        on_failed: Callable[[str], None] | None = None,
        on_restarted: Callable[[Endpoints], None] | None = None,
    ) -> None:
        self.settings = settings
        self.probe_s, self.probe_timeout_s, self.hang_after_s = probe_s, probe_timeout_s, hang_after_s
        self.max_restarts, self.window_s = max_restarts, window_s
        self.on_failed, self.on_restarted = on_failed, on_restarted
        self.state: State = "starting"
        self.reason = ""
        self.restarts: list[float] = []  # when each restart happened (monotonic)
        self.server = EmbeddedTriton(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def endpoints(self) -> Endpoints:
        return self.server.endpoints

    @property
    def control_key(self) -> str | None:
        return self.server.control_key

    def status(self) -> tuple[State, str]:
        """The state and, unless ready, why: for readiness and liveness answers."""
        return self.state, self.reason

    def start(self) -> Endpoints:
        """The first start is the caller's: its failure raises (bad repository, port taken)."""
        endpoints = self.server.start()
        # Restarts reuse the ports and the key: clients and the API keep their addresses.
        self.settings = dataclasses.replace(
            self.settings,
            http_port=endpoints.http_port,
            grpc_port=endpoints.grpc_port,
            metrics_port=endpoints.metrics_port,
            control_key=self.server.control_key,
        )
        self.state, self.reason = "ready", ""
        self._thread = threading.Thread(target=self._watch, name="triton-supervisor", daemon=True)
        self._thread.start()
        return endpoints

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.hang_after_s + self.probe_timeout_s + 5)
        with self._lock:
            self.server.stop()
            if self.state != "failed":
                self.state = "stopped"

    def wait(self) -> State:
        """Block until the supervisor stops or gives up."""
        while not self._stop.wait(0.2):
            if self.state == "failed":
                break
        return self.state

    # -- watching --------------------------------------------------------------------------------
    def _healthy(self) -> bool:
        url = f"http://{self.server.endpoints.http_url}/v2/health/live"
        with (
            contextlib.suppress(urllib.error.URLError, OSError, ValueError),
            urllib.request.urlopen(url, timeout=self.probe_timeout_s) as resp,
        ):
            return bool(resp.status == 200)
        return False

    def _watch(self) -> None:
        silent_since: float | None = None
        while not self._stop.wait(self.probe_s):
            if not self.server.is_running():
                code = self.server.returncode
                # Its last words (an abort names its cause), before the restart moves the log aside.
                logger.warning("tritonserver's last log lines:\n%s", self.server.log_tail(5))
                self._restart(f"tritonserver exited (code {code})")
                silent_since = None
                continue
            if self._healthy():
                silent_since = None
                continue
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since >= self.hang_after_s:
                self._restart(f"tritonserver stopped answering for {self.hang_after_s:.0f} s")
                silent_since = None

    def _restart(self, reason: str) -> None:
        logger.warning("%s; restarting it", reason)
        backoff = 1.0
        while not self._stop.is_set():
            now = time.monotonic()
            recent = deque(t for t in self.restarts if now - t < self.window_s)
            if len(recent) >= self.max_restarts:
                self._give_up(f"{reason}; {len(recent)} restarts in {self.window_s:.0f} s, giving up")
                return
            self.restarts.append(now)
            with self._lock:
                if self._stop.is_set():
                    return
                self.state, self.reason = "restarting", reason
                self.server.kill()  # the dead or hung server and its stubs, and their shm files
                self.server = EmbeddedTriton(self.settings)
                try:
                    endpoints = self.server.start()
                except ServeError as exc:
                    reason = f"restart failed: {exc}".splitlines()[0]
                    logger.warning("%s; next try in %.0f s", reason, backoff)
                else:
                    self.state, self.reason = "ready", ""
                    logger.warning("tritonserver is back after: %s", reason)
                    if self.on_restarted is not None:
                        self.on_restarted(endpoints)
                    return
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _give_up(self, reason: str) -> None:
        logger.error("%s", reason)
        with self._lock:
            self.server.kill()
            self.state, self.reason = "failed", reason
        if self.on_failed is not None:
            self.on_failed(reason)
