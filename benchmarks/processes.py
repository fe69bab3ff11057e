"""The in-process Flask design (Flask under gunicorn) as a baseline server in its own process, as in
production: in the load generator's process it would share its GIL and look slower than it is.
Our API runs the same way (``modelserve.ops.stack.api_process``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from modelserve.ops.stack import HttpServerProcess


def flask_server(model_path: Path, log: Path, *, workers: int | None = None) -> HttpServerProcess:
    """The Flask ``ModelDeployment`` app under gunicorn with its documented worker count
    (2 x cores + 1, sync workers): that design, deployed the standard way."""
    n = workers or 2 * (os.cpu_count() or 1) + 1
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(n), "--bind", "127.0.0.1:{port}"]
    argv += ["--log-level", "warning", "modelserve.benchmarks.flask_baseline:app_from_env()"]
    return HttpServerProcess(argv, "/health", log, env={"MODELSERVE_FLASK_MODEL": str(model_path)})
