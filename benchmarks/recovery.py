"""Recovery after kill -9 of Triton, with a repository of many models.

    python -m modelserve.benchmarks.recovery [--models 12] [--trials 3] [--out benchmarks/results]

Two ways back, measured in the same run on the same repository (the demo's tabular models, copied
under new names up to ``--models``):

- **baseline, all at start**: a server started with every model (``--load-model=*``), as a restart
  did before: Triton opens its ports once every model has loaded.
- **supervised restart**: ``Supervisor`` restarts the killed server with no model and loads them
  back through the control API, most used first, four at once.

For each: seconds from the kill (or the start) to the first successful inference of the most used
model, and to every model ready. Prints a table; writes ``recovery-<date>.json`` with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from modelserve.benchmarks.stats import machine_info
from modelserve.serve.server import EmbeddedTriton, Endpoints
from modelserve.serve.settings import ServerSettings
from modelserve.serve.supervisor import Supervisor


def build_repository(root: Path, count: int) -> list[str]:
    from modelserve.families.tabular.demo import export_demo_set

    models = [m.name for m in export_demo_set(root)]
    names = list(models)
    while len(names) < count:
        source = models[len(names) % len(models)]
        name = f"{source}_copy{len(names)}"
        shutil.copytree(root / source, root / name)
        config = root / name / "config.pbtxt"
        config.write_text(config.read_text().replace(f'name: "{source}"', f'name: "{name}"', 1))
        names.append(name)
    return sorted(names)


def _status(url: str, body: dict[str, Any] | None = None) -> int:
    """The HTTP status of a GET, or of a POST of ``body``; 0 when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def infer_body(endpoints: Endpoints, model: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{endpoints.http_url}/v2/models/{model}", timeout=5) as resp:
        meta = json.loads(resp.read())
    inputs = []
    for spec in meta["inputs"]:
        shape = [1 if d == -1 else int(d) for d in spec["shape"]]
        size = 1
        for d in shape:
            size *= d
        inputs.append(
            {"name": spec["name"], "shape": shape, "datatype": spec["datatype"], "data": [0] * size}
        )
    return {"inputs": inputs}


def wait_back(
    endpoints: Endpoints, hot: str, body: dict[str, Any], models: list[str], since: float
) -> tuple[float, float]:
    """Seconds after ``since`` to the hot model's first 200 and to every model ready."""
    url = f"http://{endpoints.http_url}/v2/models"
    first = None
    deadline = since + 300
    while time.monotonic() < deadline:
        if first is None and _status(f"{url}/{hot}/infer", body) == 200:
            first = time.monotonic() - since
        if first is not None and all(_status(f"{url}/{m}/ready") == 200 for m in models):
            return first, time.monotonic() - since
        time.sleep(0.05)
    raise TimeoutError("the models did not come back within 300 s")


def baseline(
    repo: Path, work: Path, hot: str, body: dict[str, Any], models: list[str]
) -> tuple[float, float]:
    settings = ServerSettings(repository=repo, http_port=0, grpc_port=0, metrics_port=0, work_dir=work)
    start = time.monotonic()
    with EmbeddedTriton(settings) as server:  # returns once Triton answers: every model loaded
        return wait_back(server.endpoints, hot, body, models, start)


def supervised(
    supervisor: Supervisor, hot: str, body: dict[str, Any], models: list[str]
) -> tuple[float, float]:
    endpoints = supervisor.endpoints
    for _ in range(200):  # the hot model is the most used one: it comes back first
        _status(f"http://{endpoints.http_url}/v2/models/{hot}/infer", body)
    supervisor.reloader.note_use(endpoints.metrics_url)
    pid = supervisor.server.pid
    assert pid is not None
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while supervisor.server.pid == pid:
        time.sleep(0.01)
    return wait_back(endpoints, hot, body, models, killed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="recovery-") as tmp:
        repo = Path(tmp) / "repo"
        models = build_repository(repo, args.models)
        hot = models[-1]  # last by name: only its use puts it first
        settings = ServerSettings(
            repository=repo, http_port=0, grpc_port=0, metrics_port=0, work_dir=Path(tmp) / "s"
        )
        # stable_s: each trial's kill counts as a first crash (no backoff from the one before)
        supervisor = Supervisor(settings, probe_s=0.1, stable_s=1.0)
        endpoints = supervisor.start()
        body = infer_body(endpoints, hot)
        rows: dict[str, list[tuple[float, float]]] = {"baseline: all at start": [], "supervised restart": []}
        try:
            for trial in range(args.trials):
                rows["baseline: all at start"].append(
                    baseline(repo, Path(tmp) / f"b{trial}", hot, body, models)
                )
                rows["supervised restart"].append(supervised(supervisor, hot, body, models))
        finally:
            supervisor.stop()
    print(f"\nRecovery with {len(models)} models ({args.trials} trials each; medians, seconds)\n")
    print(f"{'way back':<26}{'first 200':>12}{'all ready':>12}")
    summary: dict[str, dict[str, Any]] = {}
    for name, trials in rows.items():
        first, every = statistics.median(t[0] for t in trials), statistics.median(t[1] for t in trials)
        summary[name] = {"first_200_s": first, "all_ready_s": every, "trials": trials}
        print(f"{name:<26}{first:>12.2f}{every:>12.2f}")
    ratio = float(summary["baseline: all at start"]["first_200_s"]) / float(
        summary["supervised restart"]["first_200_s"]
    )
    print(f"\nfirst 200: supervised restart is {ratio:.1f}x sooner than the baseline")
    document = {
        "benchmark": "recovery",
        "machine": machine_info(),
        "models": len(models),
        "hot": hot,
        "results": summary,
        "first_200_ratio": ratio,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"recovery-{time.strftime('%Y-%m-%d')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
