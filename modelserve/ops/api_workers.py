"""uvicorn's worker manager for the API, counting and reporting the workers that die.

uvicorn restarts a worker that dies (a crash in a native library, a kill) and notes it at info
level; a crash here is an incident: a warning line with how the worker ended, and a count the
status file carries to ``/metrics`` (``modelserve_api_worker_restarts``)."""

from __future__ import annotations

import logging
import signal

from uvicorn.supervisors import Multiprocess

logger = logging.getLogger(__name__)


class Workers(Multiprocess):
    restarts = 0

    def keep_subprocess_alive(self) -> None:
        if not self.should_exit.is_set():
            for process in self.processes:
                code = process.process.exitcode if not process.process.is_alive() else None
                if code is not None:
                    Workers.restarts += 1
                    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                    logger.warning("API worker %s died (%s); starting another", process.pid, how)
        super().keep_subprocess_alive()
