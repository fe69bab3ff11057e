"""Several Triton replicas behind one API: calls spread over all of them, a replica killed under load
costs no request, a rollout reaches every replica (and a failure on one restores all), and
``reconcile`` brings a late replica to the served version."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelserve.api.app import create_app
from modelserve.client import TritonClient
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families.tabular.exporter import export_classifier
from modelserve.ops.errors import LifecycleError
from modelserve.ops.fleet import open_fleet
from modelserve.ops.inventory import inventory
from modelserve.ops.lifecycle import promote, ready_versions, reconcile, reconcile_all, rollback
from modelserve.repository import ModelRepository
from modelserve.serve.server import EmbeddedTriton
from modelserve.serve.settings import ServerSettings
from modelserve.serving.settings import ApiSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
NAME = "fleet"
KEY = "fleet-control-key-0123456789"  # one key for every replica, as a Secret would give them
DATA = load_breast_cancer()
RECORD = dict(zip(DATA.feature_names, (float(v) for v in DATA.data[0]), strict=True))


def _export(root: Path, version: int, c: float) -> None:
    features = tuple(str(n) for n in DATA.feature_names)
    spec = FeatureSpec(
        fields=tuple(FieldSpec(name=f, kind="numeric") for f in features),
        target="t",
        classes=tuple(str(n) for n in DATA.target_names),
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(
        DATA.data, DATA.target
    )
    export_classifier(
        root, NAME, model, DATA.data[:50].astype(np.float32), spec=spec, source="test", version=version
    )


def _server(repo: Path, work: Path, **kw: Any) -> EmbeddedTriton:
    settings = ServerSettings(
        repository=repo, http_port=0, grpc_port=0, metrics_port=0, work_dir=work, control_key=KEY, **kw
    )
    return EmbeddedTriton(settings)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[Path, list[EmbeddedTriton]]]:
    repo = tmp_path / "repo"
    _export(repo, 1, c=0.001)
    servers = [_server(repo, tmp_path / f"w{i}") for i in range(2)]
    try:
        for server in servers:
            server.start()
        yield repo, servers
    finally:
        for server in servers:
            server.stop()


def _url(servers: list[EmbeddedTriton]) -> str:
    return ",".join(s.endpoints.grpc_url for s in servers if s.is_running())


def _inferences(server: EmbeddedTriton) -> int:
    with TritonClient(server.endpoints.grpc_url) as client:
        return sum(s.inference_count for s in client.statistics(NAME))


class Load:
    """Predict calls through the API on their own loop, every outcome counted."""

    def __init__(self, api: Any) -> None:
        self.api, self.ok, self.failures, self.versions = api, 0, [], []  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        transport = httpx.ASGITransport(app=self.api)
        async with (
            self.api.router.lifespan_context(self.api),
            httpx.AsyncClient(transport=transport, base_url="http://api") as http,
        ):

            async def loop() -> None:
                while not self.stop.is_set():
                    resp = await http.post(f"/v1/models/{NAME}/predict", json=RECORD)
                    if resp.status_code == 200:
                        self.ok += 1
                        self.versions.append(resp.json()["version"])
                    else:
                        self.failures.append(f"{resp.status_code}: {resp.text[:200]}")

            await asyncio.gather(*(loop() for _ in range(4)))

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def _api(repo: Path, servers: list[EmbeddedTriton], **kw: Any) -> Any:
    return create_app(
        ApiSettings(triton_url=_url(servers), repository=repo, monitoring=False, control_key=KEY, **kw)
    )


def _wait_for(predicate: Any, seconds: float = 30) -> None:
    deadline = threading.Event()
    for _ in range(int(seconds * 10)):
        if predicate():
            return
        deadline.wait(0.1)
    raise AssertionError("timed out waiting")


def test_calls_reach_every_replica_and_a_killed_one_costs_nothing(replicas):
    repo, servers = replicas
    before = [_inferences(s) for s in servers]

    async def four_hundred() -> list[int]:
        api = _api(repo, servers)
        async with (
            api.router.lifespan_context(api),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api") as http,
        ):
            ready = (await http.get("/ready")).json()
            assert ready["replicas"] == {s.endpoints.grpc_url: True for s in servers}
            codes = [
                (await http.post(f"/v1/models/{NAME}/predict", json=RECORD)).status_code for _ in range(400)
            ]
            return codes

    codes = asyncio.run(four_hundred())
    assert codes == [200] * 400
    served = [_inferences(s) - b for s, b in zip(servers, before, strict=True)]
    assert all(n > 50 for n in served) and sum(served) >= 400, served  # both got a real share

    api = _api(repo, servers)
    with Load(api) as load:
        _wait_for(lambda: load.ok > 50)
        servers[1].kill()  # SIGKILL under load
        at_kill = load.ok
        _wait_for(lambda: load.ok > at_kill + 200)
    assert load.failures == []  # a call that met the dead replica was retried on the other
    with TritonClient(",".join(s.endpoints.grpc_url for s in servers)) as both:
        assert both.replica_status() == {
            servers[0].endpoints.grpc_url: True,
            servers[1].endpoints.grpc_url: False,
        }
    print(f"after the kill: {load.ok - at_kill} answers, 0 failed")


def test_a_replica_stopped_gracefully_under_load_costs_nothing(replicas):
    # SIGTERM (how Kubernetes stops a pod): Triton unloads its models first and answers "not ready"
    # or "no available versions" for a few seconds before it goes away.
    repo, servers = replicas
    direct: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        with TritonClient(_url(servers)) as client:
            while not stop.is_set():
                try:
                    client.infer(NAME, {"features": np.array([list(RECORD.values())])})
                except Exception as exc:  # every failure counts
                    direct.append(repr(exc)[:200])

    thread = threading.Thread(target=client_loop, daemon=True)
    with Load(_api(repo, servers)) as load:
        thread.start()
        _wait_for(lambda: load.ok > 50)
        servers[1].stop()
        at_stop = load.ok
        _wait_for(lambda: load.ok > at_stop + 100)
        stop.set()
        thread.join(timeout=30)
    assert load.failures == [] and direct == []


def test_a_rollout_reaches_every_replica_under_load_and_loses_nothing(replicas):
    repo, servers = replicas
    _export(repo, 2, c=100.0)
    api = _api(repo, servers, versions_ttl_s=0.5)
    with Load(api) as load, open_fleet(_url(servers), control_key=KEY) as fleet:
        _wait_for(lambda: load.ok > 20)
        outcome = promote(fleet, repo, NAME, 2, grace_s=1.0)
        assert outcome.replicas == {s.endpoints.grpc_url: [2] for s in servers}
        _wait_for(lambda: "2" in load.versions[-20:])
        back = rollback(fleet, repo, NAME, grace_s=1.0)
        assert set(map(tuple, back.replicas.values())) == {(1,)}
        seen = len(load.versions)
        _wait_for(lambda: load.versions[seen:] and load.versions[-1] == "1")
    assert load.failures == [] and load.ok > 100
    assert ModelRepository(repo).lifecycle(NAME).served == 1


def test_a_verification_failure_on_one_replica_restores_every_replica(tmp_path):
    repo = tmp_path / "repo"
    _export(repo, 1, c=0.001)
    # The second replica serves its own copy of the repository, whose v2 is not the v2 verified
    # against (it is v1's graph): its answers differ from ONNX Runtime's on the real file.
    other = tmp_path / "other-repo"
    shutil.copytree(repo, other)
    first, second = _server(repo, tmp_path / "w1"), _server(other, tmp_path / "w2")
    first.start()
    second.start()
    try:
        _export(repo, 2, c=100.0)
        shutil.copytree(other / NAME / "1", other / NAME / "2")
        with open_fleet(_url([first, second]), control_key=KEY) as fleet:
            with pytest.raises(LifecycleError, match=f"on {second.endpoints.grpc_url}") as failed:
                promote(fleet, repo, NAME, 2, grace_s=0.0)
            assert "still serving v1" in str(failed.value)
            assert [ready_versions(c, NAME) for c in fleet] == [[1], [1]]  # both restored
        assert ModelRepository(repo).lifecycle(NAME).served == 1  # pinned before the load, never switched
    finally:
        first.stop()
        second.stop()


def test_reconcile_brings_a_late_replica_to_the_served_version(replicas, tmp_path):
    repo, servers = replicas
    _export(repo, 2, c=100.0)
    with open_fleet(_url(servers), control_key=KEY) as fleet:
        promote(fleet, repo, NAME, 2, grace_s=0.0)
    late = _server(repo, tmp_path / "w-late", load_models=())  # joined late, loaded nothing
    late.start()
    try:
        everyone = [*servers, late]
        with open_fleet(_url(everyone), control_key=KEY) as fleet:
            assert ready_versions(fleet[2], NAME) == []
            listed = {r.version: r for r in inventory(repo, url=_url(everyone), control_key=KEY)}
            assert listed["2"].state == "MIXED" and f"{late.endpoints.grpc_url}: " in listed["2"].note
            outcome = reconcile(fleet, repo, NAME)
            assert outcome.replicas == {s.endpoints.grpc_url: [2] for s in everyone}
            again = reconcile(fleet, repo, NAME)  # nothing left to do
            assert again.replicas == outcome.replicas
            listed = {r.version: r for r in inventory(repo, url=_url(everyone), control_key=KEY)}
            assert listed["2"].state == "READY"  # every replica agrees
            # A replica loaded by hand with a config of its own (v1, no inputs): the repository's
            # config and version set come back, checked against ONNX Runtime.
            fleet[0].load(NAME, config=json.dumps({"version_policy": {"specific": {"versions": [1]}}}))
            assert ready_versions(fleet[0], NAME) == [1]
            (fixed,) = reconcile_all(fleet, repo)
            assert fixed.name == NAME and fixed.replicas == outcome.replicas
            assert len(fleet[0].config(NAME).input) == 1
    finally:
        late.stop()


def test_retraining_promotes_the_new_version_on_every_replica(replicas, tmp_path):
    import pandas as pd

    from modelserve.ops.retrain import retrain

    repo, servers = replicas
    table = pd.DataFrame(DATA.data, columns=DATA.feature_names)
    table["t"] = [str(DATA.target_names[i]) for i in DATA.target]
    table.to_csv(tmp_path / "data.csv", index=False)
    done = retrain(
        repo,
        NAME,
        url=_url(servers),
        control_key=KEY,
        data=tmp_path / "data.csv",
        models=("logistic_regression",),
        max_drop=1.0,
        grace_s=0.2,
    )
    assert done.version == 2 and ModelRepository(repo).lifecycle(NAME).served == 2
    for server in servers:  # a load reaches one server: the retrain must act on each
        with TritonClient(server.endpoints.grpc_url, control_key=KEY) as client:
            assert ready_versions(client, NAME) == [2]
