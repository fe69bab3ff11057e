"""The monitoring store on a real PostgreSQL server, as several API replicas share it: the store's
contract, one lease winner among racing replicas, and feedback through one replica for predictions
another one answered, and live WebSocket updates that reach clients of every replica.

The server is a throwaway cluster started here from Debian's PostgreSQL (`.ci/run` installs it when
missing), or the one MODELSERVE_TEST_POSTGRES_URL names.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from modelserve.api.app import create_app
from modelserve.families.tabular.demo import DemoModel
from modelserve.monitor.store import Store
from modelserve.ops.stack import serving
from modelserve.serve.ports import free_port
from modelserve.serve.server import EmbeddedTriton
from modelserve.serving.settings import ApiSettings
from tests.unit.test_monitor_store import exercise

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if os.environ.get("MODELSERVE_TEST_POSTGRES_URL"):
        yield os.environ["MODELSERVE_TEST_POSTGRES_URL"]
        return
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL here: install Debian's postgresql or set MODELSERVE_TEST_POSTGRES_URL")
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="modelserve-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    # PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], check=False)
        shutil.rmtree(root, ignore_errors=True)


def _fresh(url: str) -> Store:
    store = Store(url)
    with store.engine.begin() as conn:
        for table in ("predictions", "metric_snapshots", "events", "action_leases"):
            conn.exec_driver_sql(f"TRUNCATE {table}")
    return store


def test_store_contract_on_postgresql(postgres_url: str) -> None:
    store = _fresh(postgres_url)
    try:
        assert store.engine.dialect.name == "postgresql"
        exercise(store)
    finally:
        store.close()


def test_one_replica_wins_the_action_lease(postgres_url: str) -> None:
    replicas = [_fresh(postgres_url)] + [Store(postgres_url) for _ in range(3)]
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def race(store: Store, name: str) -> None:
        barrier.wait()
        if store.try_lease("churn:drift", name, 60):
            wins.append(name)

    threads = [threading.Thread(target=race, args=(replicas[i % 4], f"r{i}")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    for store in replicas:
        store.close()


def test_feedback_reaches_predictions_another_replica_answered(
    postgres_url: str, server: EmbeddedTriton, repository: tuple[Path, list[DemoModel]]
) -> None:
    root, demo = repository
    _fresh(postgres_url).close()
    model = next(d for d in demo if d.name == "breast_cancer_lr")
    settings = ApiSettings(triton_url=server.endpoints.grpc_url, repository=root, monitoring_url=postgres_url)
    record = dict(zip(model.feature_names, (float(v) for v in model.sample[0]), strict=True))

    async def scenario() -> None:
        a, b = create_app(settings), create_app(settings)
        async with (
            a.router.lifespan_context(a),
            b.router.lifespan_context(b),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://a") as http_a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=b), base_url="http://b") as http_b,
        ):
            answer = (await http_a.post(f"/v1/models/{model.name}/predict", json=[record] * 3)).json()
            ids = [p["prediction_id"] for p in answer["predictions"]]
            await a.state.services.monitor.flush()  # replica A writes within monitoring_flush_s anyway
            feedback = [{"prediction_id": i, "label": "benign"} for i in ids]
            response = await http_b.post(f"/v1/monitoring/{model.name}/feedback", json=feedback)
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == 3
            report = (await http_b.get(f"/v1/monitoring/{model.name}/report")).json()
            assert report["traffic"]["predictions"] == 3 and report["traffic"]["labelled"] == 3

    asyncio.run(scenario())


def test_a_websocket_on_one_replica_sees_the_whole_fleet(
    postgres_url: str,
    server: EmbeddedTriton,
    repository: tuple[Path, list[DemoModel]],
    tmp_path: Path,
) -> None:
    """Replica A runs here; replica B is a separate `modelserve api` process. A WebSocket client on
    B sees the traffic A answers (B gets none itself)."""
    root, demo = repository
    _fresh(postgres_url).close()
    model = next(d for d in demo if d.name == "breast_cancer_lr")
    record = dict(zip(model.feature_names, (float(v) for v in model.sample[0]), strict=True))
    port_b = free_port()
    env = {
        **os.environ,
        "MODELSERVE_MONITORING_URL": postgres_url,
        "MODELSERVE_MONITORING_TICK_S": "0.2",
    }
    argv = [sys.executable, "-m", "modelserve", "api", "--url", server.endpoints.grpc_url]
    argv += ["-r", str(root), "--api-port", str(port_b), "--work-dir", str(tmp_path)]
    b = f"127.0.0.1:{port_b}"
    settings = ApiSettings(
        triton_url=server.endpoints.grpc_url,
        repository=root,
        monitoring_url=postgres_url,
        monitoring_tick_s=0.2,
    )

    async def scenario(a: str) -> None:
        async with websockets.connect(f"ws://{b}/ws/metrics?model={model.name}") as watcher:
            assert json.loads(await watcher.recv())["type"] == "hello"
            async with httpx.AsyncClient(base_url=a) as http:
                seen: dict[str, Any] | None = None
                deadline = time.monotonic() + 30
                while seen is None:
                    assert time.monotonic() < deadline, "no traffic from replica A reached B's client"
                    response = await http.post(f"/v1/models/{model.name}/predict", json=[record] * 2)
                    assert response.status_code == 200, response.text
                    with contextlib.suppress(TimeoutError):
                        message = json.loads(await asyncio.wait_for(watcher.recv(), 1.0))
                        seen = message if message["type"] == "traffic" else None
            assert seen["model"] == model.name and seen["requests"] >= 1

    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _up(b):
            assert proc.poll() is None, f"replica B exited: {proc.stdout.read() if proc.stdout else ''}"
            assert time.monotonic() < deadline, "replica B did not start"
            time.sleep(0.2)
        with serving(create_app(settings)) as a:
            asyncio.run(scenario(a))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _up(address: str) -> bool:
    try:
        return httpx.get(f"http://{address}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
