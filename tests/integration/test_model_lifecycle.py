"""Promote, roll back and retire under concurrent traffic through the API and straight to Triton:
0 failed requests, a corrupt version never replaces a healthy one, the served version follows."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from modelserve.api.app import create_app
from modelserve.cli.app import app as cli
from modelserve.client import AsyncTritonClient, TritonClient
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families.tabular.exporter import export_classifier
from modelserve.ops.errors import LifecycleError
from modelserve.ops.lifecycle import promote, ready_versions, retire, rollback
from modelserve.ops.stack import local_triton
from modelserve.repository import ModelRepository
from modelserve.serving.settings import ApiSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NAME = "life"


def _export(root: Path, version: int, c: float) -> Any:
    data = load_breast_cancer()
    features = tuple(str(n) for n in data.feature_names)
    classes = tuple(str(n) for n in data.target_names)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(
        data.data, data.target
    )
    spec = FeatureSpec(
        fields=tuple(FieldSpec(name=f, kind="numeric") for f in features), target="t", classes=classes
    )
    export_classifier(
        root,
        NAME,
        model,
        data.data[:50].astype(np.float32),
        spec=spec,
        source="test",
        version=version,
    )
    return model


class Traffic:
    """API and direct-Triton requests in a loop on their own event loop thread, every outcome kept."""

    def __init__(self, api: Any, grpc_url: str, record: dict[str, float], row: np.ndarray) -> None:
        self.api, self.grpc_url, self.record, self.row = api, grpc_url, record, row
        self.ok = 0
        self.failures: list[str] = []
        self.versions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        transport = httpx.ASGITransport(app=self.api)
        async with (
            self.api.router.lifespan_context(self.api),
            httpx.AsyncClient(transport=transport, base_url="http://api") as http,
            AsyncTritonClient(self.grpc_url) as triton,
        ):

            async def via_api() -> None:
                while not self._stop.is_set():
                    try:
                        resp = await http.post(f"/v1/models/{NAME}/predict", json=self.record)
                    except Exception as exc:
                        self.failures.append(f"api: {exc!r}")
                        continue
                    if resp.status_code != 200:
                        self.failures.append(f"api {resp.status_code}: {resp.text[:200]}")
                    else:
                        self.ok += 1
                        self.versions.append(resp.json()["version"])

            async def direct() -> None:
                while not self._stop.is_set():
                    try:
                        await triton.infer(NAME, {"features": self.row})
                        self.ok += 1
                    except Exception as exc:
                        self.failures.append(f"triton: {exc!r}")

            await asyncio.gather(*(via_api() for _ in range(4)), *(direct() for _ in range(2)))

    def during(self, action: Callable[[], Any]) -> Any:
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        try:
            threading.Event().wait(0.5)  # traffic flowing before the change
            return action()
        finally:
            threading.Event().wait(0.5)
            self._stop.set()
            self._thread.join(timeout=60)


def test_promote_verify_rollback_and_retire_under_load(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    v1 = _export(root, 1, c=0.001)
    data = load_breast_cancer()
    record = dict(zip(data.feature_names, (float(v) for v in data.data[0]), strict=True))
    row = data.data[:1].astype(np.float64)
    with (
        local_triton(root, tmp_path / "w", lock_control_plane=False) as server,
        TritonClient(server.endpoints.grpc_url) as client,
    ):
        assert ready_versions(client, NAME) == [1]
        v2 = _export(root, 2, c=100.0)  # written while serving: explicit control leaves it unloaded
        api = create_app(
            ApiSettings(triton_url=server.endpoints.grpc_url, repository=root, versions_ttl_s=5.0)
        )
        traffic = Traffic(api, server.endpoints.grpc_url, record, row)

        # Promote v2 under load.
        outcome = traffic.during(lambda: promote(client, root, NAME, 2, grace_s=0.3))
        assert traffic.failures == [] and traffic.ok > 50
        assert outcome.loaded == [2] and ready_versions(client, NAME) == [2]
        assert traffic.versions[-1] == "2"
        state = ModelRepository(root).lifecycle(NAME)
        assert state.served == 2 and state.previous == [1]
        assert "specific" in (root / NAME / "config.pbtxt").read_text()  # a restart serves v2 too
        probs = client.infer(NAME, {"features": data.data[:20].astype(np.float64)})["probabilities"]
        np.testing.assert_allclose(probs, v2.predict_proba(data.data[:20]), atol=1e-4)

        # A corrupt v3 is refused and v2 keeps serving, with no failed request.
        (root / NAME / "3").mkdir()
        for f in (root / NAME / "2").iterdir():
            (root / NAME / "3" / f.name).write_bytes(f.read_bytes())
        (root / NAME / "3" / "model.onnx").write_bytes(b"not an onnx model")
        traffic.failures.clear()
        with pytest.raises(LifecycleError, match="still serving v2") as refused:
            traffic.during(lambda: promote(client, root, NAME, 3, grace_s=0.2))
        assert "\nAt:" not in str(refused.value)  # the stub's traceback stays in the server log
        assert traffic.failures == []
        assert ready_versions(client, NAME) == [2] and ModelRepository(root).lifecycle(NAME).served == 2

        # Roll back (to v1, the version served before) through the CLI, under load.
        traffic.failures.clear()
        result = traffic.during(
            lambda: CliRunner().invoke(
                cli,
                [
                    "models",
                    "rollback",
                    NAME,
                    "-r",
                    str(root),
                    "--url",
                    server.endpoints.grpc_url,
                    "--grace",
                    "1",
                ],
            )
        )
        assert result.exit_code == 0, result.output
        assert "rollback life v1: done; loaded now: v1" in result.output
        assert traffic.failures == []
        assert traffic.versions[-1] == "1" and ready_versions(client, NAME) == [1]
        probs = client.infer(NAME, {"features": data.data[:20].astype(np.float64)})["probabilities"]
        np.testing.assert_allclose(probs, v1.predict_proba(data.data[:20]), atol=1e-4)

        # Retire: never the served version; a retired version cannot be promoted.
        with pytest.raises(LifecycleError, match="served version"):
            retire(client, root, NAME, 1)
        retire(client, root, NAME, 3)
        with pytest.raises(LifecycleError, match="retired"):
            promote(client, root, NAME, 3)
        with pytest.raises(LifecycleError, match="no version 9"):
            promote(client, root, NAME, 9)
        with pytest.raises(LifecycleError, match="already the served version"):
            promote(client, root, NAME, 1)
        events = [e["action"] for e in json.loads((root / NAME / "lifecycle.json").read_text())["events"]]
        assert events == ["promote", "rollback", "retire"]
        # Rolling back again goes to v2 (served before v1 came back), as `kubectl rollout undo` does.
        assert rollback(client, root, NAME, grace_s=0.2).version == 2
        assert ModelRepository(root).lifecycle(NAME).previous == [1]  # each once, never the served one
