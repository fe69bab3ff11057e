"""Bring the models back after a restart, most used first, several at once.

Triton opens its ports only once every model given by ``--load-model`` has loaded: with 11 models
the first answer after a crash came 22 s later. A restarted server therefore starts with none and
this loads them through the control API, in parallel (Triton loads each on a thread of its own),
in order of use: each model answers as soon as it is back, and the busiest come first. Use is
read from Triton's own counters (``nv_inference_request_success``) while the server runs.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from modelserve.serve.settings import CONTROL_HEADER

logger = logging.getLogger(__name__)

_SUCCESS = re.compile(r'^nv_inference_request_success\{[^}]*model="([^"]+)"[^}]*\}\s+([0-9.e+]+)$', re.M)


class Reloader:
    def __init__(self, *, control_key: str | None, parallel: int = 4, timeout_s: float = 300.0) -> None:
        self.control_key, self.parallel, self.timeout_s = control_key, parallel, timeout_s
        self.use: Counter[str] = Counter()  # requests each model served, summed over restarts
        self._seen: dict[str, float] = {}  # the running server's counters at the last reading

    def note_use(self, metrics_url: str) -> None:
        """Read the running server's request counters (cheap; called every few seconds)."""
        try:
            with urllib.request.urlopen(metrics_url, timeout=1.0) as resp:
                text = resp.read().decode(errors="replace")
        except (urllib.error.URLError, OSError, ValueError):
            return
        now: dict[str, float] = {}
        for model, value in _SUCCESS.findall(text):
            now[model] = now.get(model, 0.0) + float(value)
        for model, count in now.items():
            self.use[model] += int(max(count - self._seen.get(model, 0.0), 0.0))
        self._seen = now

    def restarted(self) -> None:
        """A new server counts from zero."""
        self._seen = {}

    def order(self, models: list[str]) -> list[str]:
        return sorted(models, key=lambda m: (-self.use[m], m))

    def load(self, http_url: str, models: list[str]) -> dict[str, str]:
        """Load ``models`` (most used first, ``parallel`` at a time); what failed, and why."""
        failed: dict[str, str] = {}

        def one(model: str) -> None:
            why = self._post(http_url, f"/v2/repository/models/{model}/load")
            if why is None:
                logger.info("model %s is back", model)
            else:
                failed[model] = why
                logger.warning("model %s did not load after the restart: %s", model, why)

        with ThreadPoolExecutor(self.parallel, thread_name_prefix="triton-reload") as pool:
            list(pool.map(one, self.order(models)))
        return failed

    def repository_models(self, http_url: str) -> list[str]:
        """Every model in the repository, as the new server's index lists them."""
        request = self._request(http_url, "/v2/repository/index", b"{}")
        try:
            with urllib.request.urlopen(request, timeout=10.0) as resp:
                return sorted({entry["name"] for entry in json.loads(resp.read())})
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("cannot list the repository after the restart: %s", exc)
            return []

    def _post(self, http_url: str, path: str) -> str | None:
        try:
            with urllib.request.urlopen(self._request(http_url, path, b"{}"), timeout=self.timeout_s):
                return None
        except urllib.error.HTTPError as exc:
            return exc.read().decode(errors="replace")[:500] or str(exc)
        except (urllib.error.URLError, OSError) as exc:
            return str(exc)

    def _request(self, http_url: str, path: str, body: bytes) -> urllib.request.Request:
        headers = {"Content-Type": "application/json"}
        if self.control_key is not None:
            headers[CONTROL_HEADER] = self.control_key
        return urllib.request.Request(f"http://{http_url}{path}", data=body, headers=headers, method="POST")
