"""The first command's job: export the demo set, start the embedded Triton, answer requests.

Everything that can stop the server is checked before the export writes (the ports, the binary,
the paths): a demo run beside a running ``modelserve up`` once rewrote the served demo models and
only then found its ports taken. An unchanged demo model is not written again (``reused``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from modelserve.client import TritonClient
from modelserve.families.tabular.demo import DemoModel, export_demo_set
from modelserve.serve.preflight import check_can_start, check_writable_dir
from modelserve.serve.server import EmbeddedTriton, Endpoints
from modelserve.serve.settings import ServerSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class DemoAnswer:
    model: str
    protocol: str
    row: list[float]
    predicted: str
    confidence: float


def ask(endpoints: Endpoints, models: list[DemoModel]) -> list[DemoAnswer]:
    """One request per model and protocol, through our client, answers decoded with the labels."""
    answers = []
    for protocol, url in (("grpc", endpoints.grpc_url), ("http", endpoints.http_url)):
        with TritonClient(url, protocol=protocol, timeout_s=10.0) as client:
            for model in models:
                rows = np.asarray(model.sample[:1], dtype=np.float64)
                out = client.infer(model.name, {"features": rows})
                proba = out["probabilities"][0]
                label = int(out["label"].reshape(-1)[0])
                answers.append(
                    DemoAnswer(
                        model=model.name,
                        protocol=protocol,
                        row=[round(float(v), 3) for v in rows[0][:4]],
                        predicted=model.class_names[label],
                        confidence=float(proba.max()),
                    )
                )
    return answers


def run_demo(settings: ServerSettings) -> tuple[list[DemoModel], Endpoints, list[DemoAnswer]]:
    check_can_start(settings)
    check_writable_dir(settings.repository, "model repository")
    models = export_demo_set(settings.repository)
    with EmbeddedTriton(settings) as server:
        return models, server.endpoints, ask(server.endpoints, models)
