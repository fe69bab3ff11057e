"""The default scenario: one tabular model served five ways, measured in the same run.

The seed's classifier design (StandardScaler + random forest with ``n_jobs=-1``, and StandardScaler
+ logistic regression) trained on breast_cancer (ships with scikit-learn: offline), then:

- Triton directly: our gRPC client, and raw HTTP/JSON (KServe v2) — the serving core's limit;
- our API's tabular route (JSON record -> feature spec -> Triton) — what a service calls;
- the seed's design: the joblib model in-process behind Flask, under gunicorn;
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

from benchmarks import perf_analyzer
from benchmarks.loadgen import Target
from benchmarks.measure import Sweep, sweep
from benchmarks.processes import api_server, seed_flask_server
from benchmarks.report import Row
from benchmarks.targets import HttpTarget, InProcessTarget, TritonTarget, v2_json_body
from contracts.tabular import FeatureSpec, FieldSpec
from export.tabular import export_classifier
from serve.server import EmbeddedTriton
from serve.settings import ServerSettings

logger = logging.getLogger(__name__)

# The seed trains its forest with n_jobs=-1; that is part of what its serving design costs.
MODELS: dict[str, Callable[[], Any]] = {
    "rf": lambda: RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=42),
    "lr": lambda: LogisticRegression(max_iter=2000),
}
BASELINES = ("seed-flask", "onnxruntime", "mlserver")


@dataclass(frozen=True, kw_only=True)
class TabularModel:
    key: str
    name: str  # as served by Triton
    joblib_path: Path
    onnx_path: Path
    records: list[dict[str, float]]  # one request's records (batch)
    rows: np.ndarray  # the same, encoded: float32 [batch, features]


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
        with warnings.catch_warnings():  # fitted on a DataFrame (as the seed), checked on arrays
            warnings.simplefilter("ignore", UserWarning)
            written = export_classifier(
                root,
                name,
                pipeline,
                x_te.to_numpy(np.float32),
                feature_names=features,
                class_names=classes,
                source="sklearn.datasets.load_breast_cancer",
                extra={"features": spec.as_dict()},
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
                rows=sample.to_numpy(np.float32),
            )
        )
    return out


def _body(records: list[dict[str, float]]) -> bytes:
    return json.dumps(records[0] if len(records) == 1 else records).encode()


# (target name, factory, the Triton model whose statistics split it)
Plan = list[tuple[str, Callable[[], Target], str | None]]


def plan(
    m: TabularModel, *, grpc_url: str, http_url: str, api_url: str, batch: int, baselines: tuple[str, ...]
) -> Plan:
    inputs = {"features": m.rows}
    v2 = v2_json_body(inputs)
    record = _body(m.records)
    names = {
        "grpc": f"triton grpc {m.key}",
        "http": f"triton http {m.key}",
        "api": f"api predict {m.key}",
        "ort": f"onnxruntime in-process {m.key}",
    }
    out: Plan = [
        (names["grpc"], lambda: TritonTarget(names["grpc"], grpc_url, m.name, inputs), m.name),
        (
            names["http"],
            lambda: HttpTarget(
                names["http"], f"http://{http_url}/v2/models/{m.name}/infer", v2, items_per_request=batch
            ),
            m.name,
        ),
        (
            names["api"],
            lambda: HttpTarget(
                names["api"], f"{api_url}/v1/models/{m.name}/predict", record, items_per_request=batch
            ),
            m.name,
        ),
    ]
    if "onnxruntime" in baselines:
        out.append((names["ort"], lambda: InProcessTarget(names["ort"], m.onnx_path, inputs), None))
    return out


def _baseline_servers(m: TabularModel, tmp: Path, baselines: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(kind, context manager) of the baseline servers for one model; started one model at a time."""
    servers: list[tuple[str, Any]] = []
    if "seed-flask" in baselines:
        servers.append(("seed-flask", seed_flask_server(m.joblib_path, tmp / "logs" / f"flask-{m.key}.log")))
    if "mlserver" in baselines:
        from benchmarks.mlserver_baseline import MLServer

        venv = Path(".modelserve/bench-venvs/mlserver").resolve()
        servers.append(("mlserver", MLServer(m.joblib_path, tmp / f"mlserver-{m.key}", venv)))
    return servers


def _baseline_plan(kind: str, server: Any, m: TabularModel, batch: int) -> Plan:
    if kind == "seed-flask":
        name = f"seed flask+gunicorn {m.key}"
        url = f"{server.base_url}/predict"
        body = _body(m.records)
        return [(name, lambda: HttpTarget(name, url, body, items_per_request=batch), None)]
    from benchmarks.mlserver_baseline import request_body

    name = f"mlserver {m.key}"
    url = f"{server.base_url}{server.infer_path}"
    body = request_body(m.rows.tolist())
    return [(name, lambda: HttpTarget(name, url, body, items_per_request=batch), None)]


def run(
    sweep_points: Sweep,
    *,
    models: tuple[str, ...] = ("rf", "lr"),
    baselines: tuple[str, ...] = ("seed-flask", "onnxruntime"),
    batches: tuple[int, ...] = (1,),
    work_dir: Path | None = None,
    echo: Callable[[Row], None] | None = None,
    use_perf_analyzer: bool = True,
) -> tuple[list[Row], dict[str, Any]]:
    """Every target of every model at every load point; and perf_analyzer's rows where it exists."""
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baselines {sorted(unknown)}; choose from {', '.join(BASELINES)}")
    specs = sweep_points.specs()
    rows: list[Row] = []
    extras: dict[str, Any] = {"perf_analyzer": {}}
    if use_perf_analyzer and perf_analyzer.find() is None:
        extras["perf_analyzer"] = {"unavailable": perf_analyzer.unavailable_reason()}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        built = build_models(tmp / "repo", tmp, models, max(batches))
        settings = ServerSettings(
            repository=tmp / "repo", http_port=0, grpc_port=0, metrics_port=0, work_dir=tmp / "triton"
        )
        triton = stack.enter_context(EmbeddedTriton(settings))
        grpc_url = triton.endpoints.grpc_url
        api = stack.enter_context(api_server(grpc_url, tmp / "repo", tmp / "logs" / "api.log"))
        for full in built:
            for batch in batches:
                m = replace(full, records=full.records[:batch], rows=full.rows[:batch])
                group = f"tabular-{m.key}" + (f"-b{batch}" if batches != (1,) else "")
                todo = plan(
                    m,
                    grpc_url=grpc_url,
                    http_url=triton.endpoints.http_url,
                    api_url=api.base_url,
                    batch=batch,
                    baselines=baselines,
                )
                for name, make, model in todo:
                    logger.info("measuring %s (batch %d)", name, batch)
                    rows += sweep(make, specs, group=group, triton_model=model, grpc_url=grpc_url, echo=echo)
                if use_perf_analyzer and perf_analyzer.find() is not None:
                    extras["perf_analyzer"][f"{m.name} b{batch}"] = perf_analyzer.run(
                        m.name, grpc_url, concurrency=sweep_points.concurrency, batch=batch
                    )
            # Baseline servers start once per model and serve every batch size.
            for kind, server in _baseline_servers(full, tmp, baselines):
                with ExitStack() as one:
                    try:
                        running = one.enter_context(server)
                    except RuntimeError as exc:  # a baseline that cannot start is reported, not fatal
                        logger.warning("baseline %s did not start: %s", kind, exc)
                        extras.setdefault("baselines_skipped", {})[f"{kind} {full.key}"] = str(exc)[-1500:]
                        continue
                    for batch in batches:
                        m = replace(full, records=full.records[:batch], rows=full.rows[:batch])
                        group = f"tabular-{m.key}" + (f"-b{batch}" if batches != (1,) else "")
                        for name, make, _ in _baseline_plan(kind, running, m, batch):
                            logger.info("measuring %s (batch %d)", name, batch)
                            rows += sweep(make, specs, group=group, echo=echo)
    return rows, extras
