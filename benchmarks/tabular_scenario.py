"""The default scenario: one tabular model served five ways, measured in the same run.

The original classifier design (StandardScaler + random forest with ``n_jobs=-1``, and StandardScaler
+ logistic regression) trained on breast_cancer (ships with scikit-learn: offline), then:

- Triton directly: our gRPC client, and raw HTTP/JSON (KServe v2) — the serving core's limit;
- our API's tabular route (JSON record -> feature spec -> Triton) — what a service calls;
- the original design: the joblib model in-process behind Flask, under gunicorn;
- ONNX Runtime in this process, no server — the engine's limit on this machine;
- Seldon MLServer's scikit-learn runtime in its own venv, when asked for (``mlserver`` baseline).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelserve.benchmarks import perf_analyzer
from modelserve.benchmarks.errors import BenchmarkError
from modelserve.benchmarks.measure import Measured, Sweep, measure
from modelserve.benchmarks.processes import flask_server
from modelserve.benchmarks.report import Row
from modelserve.benchmarks.targets import HttpTarget, InProcessTarget, TritonTarget, v2_json_body
from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.families.tabular.exporter import export_classifier
from modelserve.ops.errors import OpsError
from modelserve.ops.stack import api_process, local_triton

logger = logging.getLogger(__name__)

# The original trains its forest with n_jobs=-1; that is part of what its serving design costs.
MODELS: dict[str, Callable[[], Any]] = {
    "rf": lambda: RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=42),
    "lr": lambda: LogisticRegression(max_iter=2000),
}
BASELINES = ("flask", "onnxruntime", "mlserver", "api-unmonitored")
UNMONITORED = "unmonitored api predict"  # our API with MODELSERVE_MONITORING=false


@dataclass(frozen=True, kw_only=True)
class TabularModel:
    key: str
    name: str  # as served by Triton
    joblib_path: Path
    onnx_path: Path
    records: list[dict[str, float]]  # one request's records (batch)
    rows: np.ndarray  # the same, encoded as the model takes them: float64 [batch, features]


def build_models(root: Path, work: Path, keys: tuple[str, ...], batch: int) -> list[TabularModel]:
    data = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = data.frame.drop(columns=["target"])
    x_tr, x_te, y_tr, _ = train_test_split(frame, data.target, test_size=0.3, random_state=0)
    features = tuple(str(c) for c in frame.columns)
    classes = tuple(str(c) for c in data.target_names)
    spec = FeatureSpec(
        fields=tuple(FieldSpec(name=f, kind="numeric") for f in features), target="target", classes=classes
    )
    out = []
    for key in keys:
        if key not in MODELS:
            raise ValueError(f"unknown tabular model {key!r}; choose from {', '.join(MODELS)}")
        pipeline = Pipeline([("scale", StandardScaler()), ("model", MODELS[key]())]).fit(x_tr, y_tr)
        name = f"bench_{key}"
        with warnings.catch_warnings():  # fitted on a DataFrame (as the original), checked on arrays
            warnings.simplefilter("ignore", UserWarning)
            written = export_classifier(
                root,
                name,
                pipeline,
                x_te.to_numpy(np.float64),
                spec=spec,
                source="sklearn.datasets.load_breast_cancer",
            )
        joblib.dump(pipeline, work / f"{name}.joblib")
        sample = x_te.iloc[:batch]
        out.append(
            TabularModel(
                key=key,
                name=name,
                joblib_path=work / f"{name}.joblib",
                onnx_path=written.model_path,
                records=[{k: float(v) for k, v in r.items()} for r in sample.to_dict("records")],
                rows=sample.to_numpy(np.float64),
            )
        )
    return out


def _body(records: list[dict[str, float]]) -> bytes:
    return json.dumps(records[0] if len(records) == 1 else records).encode()


def targets(
    m: TabularModel, *, grpc_url: str, http_url: str, api_url: str, batch: int, group: str, ort: bool
) -> list[Measured]:
    """Triton (gRPC client, raw HTTP), the API route, and ORT in-process for one model and batch."""
    inputs = {"features": m.rows}
    v2 = v2_json_body(inputs)
    record = _body(m.records)
    grpc, http, api = f"triton grpc {m.key}", f"triton http {m.key}", f"api predict {m.key}"
    infer_url = f"http://{http_url}/v2/models/{m.name}/infer"
    predict_url = f"{api_url}/v1/models/{m.name}/predict"
    out = [
        Measured(
            name=grpc,
            make=lambda: TritonTarget(grpc, grpc_url, m.name, inputs),
            group=group,
            triton_model=m.name,
        ),
        Measured(
            name=http,
            make=lambda: HttpTarget(http, infer_url, v2, items_per_request=batch),
            group=group,
            triton_model=m.name,
        ),
        Measured(
            name=api,
            make=lambda: HttpTarget(api, predict_url, record, items_per_request=batch),
            group=group,
            triton_model=m.name,
        ),
    ]
    if ort:
        name = f"onnxruntime in-process {m.key}"
        out.append(Measured(name=name, make=lambda: InProcessTarget(name, m.onnx_path, inputs), group=group))
    return out


def _baseline_server(kind: str, m: TabularModel, tmp: Path) -> Any:
    if kind == "flask":
        return flask_server(m.joblib_path, tmp / "logs" / f"flask-{m.key}.log")
    from modelserve.benchmarks.mlserver_baseline import MLServer

    venv = Path(".modelserve/bench-venvs/mlserver").resolve()
    return MLServer(m.joblib_path, tmp / f"mlserver-{m.key}", venv)


def _baseline_target(kind: str, server: Any, m: TabularModel, batch: int, group: str) -> Measured:
    if kind == "flask":
        name, url, body = f"flask+gunicorn {m.key}", f"{server.base_url}/predict", _body(m.records)
    else:
        from modelserve.benchmarks.mlserver_baseline import request_body

        name, url = f"mlserver {m.key}", f"{server.base_url}{server.infer_path}"
        body = request_body(m.rows.tolist())
    return Measured(name=name, make=lambda: HttpTarget(name, url, body, items_per_request=batch), group=group)


def _unmonitored_target(base_url: str, m: TabularModel, batch: int, group: str) -> Measured:
    name, url, body = f"{UNMONITORED} {m.key}", f"{base_url}/v1/models/{m.name}/predict", _body(m.records)
    return Measured(
        name=name,
        make=lambda: HttpTarget(name, url, body, items_per_request=batch),
        group=group,
        triton_model=m.name,
    )


def run(
    sweep_points: Sweep,
    *,
    models: tuple[str, ...] = ("rf", "lr"),
    baselines: tuple[str, ...] = ("flask", "onnxruntime"),
    batches: tuple[int, ...] = (1,),
    work_dir: Path | None = None,
    echo: Callable[[Row], None] | None = None,
    progress: Callable[[str], None] | None = None,
    use_perf_analyzer: bool = True,
    api_workers: int = 1,
) -> tuple[list[Row], dict[str, Any]]:
    """Every target of every model at every load point; and perf_analyzer's rows where it exists.
    All servers run for the whole measurement (the rounds interleave every target)."""
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baselines {sorted(unknown)}; choose from {', '.join(BASELINES)}")
    extras: dict[str, Any] = {"perf_analyzer": {}, "api_workers": api_workers}
    if use_perf_analyzer and perf_analyzer.find() is None:
        extras["perf_analyzer"] = {"unavailable": perf_analyzer.unavailable_reason()}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        built = build_models(tmp / "repo", tmp, models, max(batches))
        # A throwaway server on loopback; nothing here loads or unloads.
        triton = stack.enter_context(local_triton(tmp / "repo", tmp / "triton", lock_control_plane=False))
        grpc_url = triton.endpoints.grpc_url
        api = stack.enter_context(
            api_process(grpc_url, tmp / "repo", tmp / "logs" / "api.log", workers=api_workers)
        )
        bare = None
        if "api-unmonitored" in baselines:
            log = tmp / "logs" / "unmonitored" / "api.log"
            bare = stack.enter_context(api_process(grpc_url, tmp / "repo", log, monitoring=False))
        servers: dict[tuple[str, str], Any] = {}
        for full in built:
            for kind in (b for b in baselines if b not in ("onnxruntime", "api-unmonitored")):
                try:
                    servers[(kind, full.key)] = stack.enter_context(_baseline_server(kind, full, tmp))
                except (BenchmarkError, OpsError) as exc:  # a baseline that cannot start: reported
                    logger.warning("baseline %s did not start: %s", kind, exc)
                    extras.setdefault("baselines_skipped", {})[f"{kind} {full.key}"] = str(exc)[-1500:]
        items: list[Measured] = []
        for full in built:
            for batch in batches:
                m = replace(full, records=full.records[:batch], rows=full.rows[:batch])
                group = f"tabular-{m.key}" + (f"-b{batch}" if batches != (1,) else "")
                items += targets(
                    m,
                    grpc_url=grpc_url,
                    http_url=triton.endpoints.http_url,
                    api_url=api.base_url,
                    batch=batch,
                    group=group,
                    ort="onnxruntime" in baselines,
                )
                items += [
                    _baseline_target(kind, server, m, batch, group)
                    for (kind, key), server in servers.items()
                    if key == m.key
                ]
                if bare is not None:
                    items.append(_unmonitored_target(bare.base_url, m, batch, group))
        rows = measure(items, sweep_points, grpc_url=grpc_url, echo=echo, progress=progress)
        if use_perf_analyzer and perf_analyzer.find() is not None:
            for m in built:
                for batch in batches:
                    extras["perf_analyzer"][f"{m.name} b{batch}"] = perf_analyzer.run(
                        m.name, grpc_url, concurrency=sweep_points.concurrency, batch=batch
                    )
    return rows, extras
