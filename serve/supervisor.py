"""Keep one embedded Triton serving: restart it after it exits or stops answering.

A watcher thread probes the server every ``probe_s``: the process must be alive and answer
``/v2/health/live`` within ``probe_timeout_s``. A dead process is restarted at once; one that stops
answering for ``hang_after_s`` (a hang, or SIGSTOP) is killed and restarted. Each restart kills the
dead server's whole process group (its Python-backend stubs) and removes its shared-memory files,
then starts a new server on the same ports with the same control key.

It never gives up for good (a handful of bad requests that abort Triton must not end the service):
restarts back off exponentially, as Kubernetes' CrashLoopBackOff does (at once, then 1, 2, 4 ... s,
capped at ``max_backoff_s``), and the backoff resets once a server has served ``stable_s``. Each
crash is a warning line and counts in ``restarts`` (the API's ``/metrics`` shows the count);
readiness is false while the server is down.

A restarted server starts with no model and gets its models back through ``Reloader`` (most used
first, several at once), so the first model answers within seconds whatever the repository's size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Literal, NamedTuple

from modelserve.serve.errors import ServeError
from modelserve.serve.reload import Reloader
from modelserve.serve.server import EmbeddedTriton, Endpoints
from modelserve.serve.settings import ServerSettings

logger = logging.getLogger(__name__)
State = Literal["starting", "ready", "restarting", "stopped"]


class Status(NamedTuple):
    """What readiness, liveness and metrics say about the supervised server."""

    state: str
    reason: str  # why it is not ready; "" when it is
    restarts: int  # since the supervisor started


class Supervisor:
    def __init__(
        self,
        settings: ServerSettings,
        *,
        probe_s: float = 0.5,
        probe_timeout_s: float = 1.0,
        hang_after_s: float = 3.0,
        max_backoff_s: float = 30.0,
        stable_s: float = 60.0,
        on_restarted: Callable[[Endpoints], None] | None = None,
    ) -> None:
        self.settings = settings
        self.probe_s, self.probe_timeout_s, self.hang_after_s = probe_s, probe_timeout_s, hang_after_s
        self.max_backoff_s, self.stable_s = max_backoff_s, stable_s
        self.on_restarted = on_restarted
        self.state: State = "starting"
        self.reason = ""
        self.restarts: list[float] = []  # when each restart happened (monotonic)
        self.server = EmbeddedTriton(settings)
        self.reloader = Reloader(control_key=None)
        self.use_every_s = 5.0  # how often Triton's request counters are read, for the reload order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def endpoints(self) -> Endpoints:
        return self.server.endpoints

    @property
    def control_key(self) -> str | None:
        return self.server.control_key

    def status(self) -> Status:
        """The state, why it is not ready, and how often the server was restarted."""
        return Status(self.state, self.reason, len(self.restarts))

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
        self.reloader.control_key = self.server.control_key
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
            self.state = "stopped"

    def wait(self) -> State:
        """Block until the supervisor is stopped (it never gives up by itself)."""
        self._stop.wait()
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
        crashes = 0  # in a row: each waits longer before its restart, as CrashLoopBackOff does
        up_since = read_use_at = time.monotonic()
        while not self._stop.wait(self.probe_s):
            if time.monotonic() >= read_use_at:
                read_use_at = time.monotonic() + self.use_every_s
                self.reloader.note_use(self.server.endpoints.metrics_url)
            if time.monotonic() - up_since >= self.stable_s:
                crashes = 0
            if not self.server.is_running():
                code = self.server.returncode
                # Its last words (an abort names its cause), before the restart moves the log aside.
                logger.warning("tritonserver's last log lines:\n%s", self.server.log_tail(5))
                crashes = self._restart(f"tritonserver exited (code {code})", crashes)
                silent_since, up_since = None, time.monotonic()
                continue
            if self._healthy():
                silent_since = None
                continue
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since >= self.hang_after_s:
                reason = f"tritonserver stopped answering for {self.hang_after_s:.0f} s"
                crashes = self._restart(reason, crashes)
                silent_since, up_since = None, time.monotonic()

    def _without_models(self) -> ServerSettings:
        """The settings a restart uses: in explicit mode no model at start (``_reload`` follows)."""
        if self.settings.model_control != "explicit":
            return self.settings
        return dataclasses.replace(self.settings, load_models=())

    def _reload(self, endpoints: Endpoints) -> None:
        if self.settings.model_control != "explicit" or not self.settings.load_models:
            return

        def load() -> None:
            wanted = list(self.settings.load_models)
            if wanted == ["*"]:
                wanted = self.reloader.repository_models(endpoints.http_url)
            self.reloader.load(endpoints.http_url, wanted)

        threading.Thread(target=load, name="triton-reload", daemon=True).start()  # the watch goes on

    def backoff(self, crashes: int) -> float:
        """Seconds before the restart that follows ``crashes`` crashes in a row: 0, 1, 2, 4 ... cap."""
        return 0.0 if crashes == 0 else min(2.0 ** (crashes - 1), self.max_backoff_s)

    def _restart(self, reason: str, crashes: int) -> int:
        """Restart until a server is up or the supervisor is stopped; returns the crashes in a row."""
        with self._lock:
            self.state, self.reason = "restarting", reason
            self.server.kill()  # the dead or hung server and its stubs, and their shm files
        while not self._stop.is_set():
            delay = self.backoff(crashes)
            crashes += 1
            self.restarts.append(time.monotonic())
            logger.warning("%s; restart %d in %.0f s", reason, len(self.restarts), delay)
            if self._stop.wait(delay):
                return crashes
            with self._lock:
                if self._stop.is_set():
                    return crashes
                self.server = EmbeddedTriton(self._without_models())
                self.reloader.restarted()
                try:
                    endpoints = self.server.start()
                except ServeError as exc:
                    reason = f"restart failed: {exc}".splitlines()[0]
                    self.reason = reason
                    self.server.kill()
                    continue
                self.state, self.reason = "ready", ""
            logger.warning("tritonserver is back (restart %d)", len(self.restarts))
            self._reload(endpoints)
            if self.on_restarted is not None:
                self.on_restarted(endpoints)
            return crashes
        return crashes
