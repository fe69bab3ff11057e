"""A real embedded Triton on free ports, serving a repository built here (no downloads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelserve.families.tabular.demo import DemoModel, export_demo_set
from modelserve.ops.stack import local_triton
from modelserve.repository import ModelRepository
from modelserve.repository.spec import DynamicBatching, ModelEntry, TensorConfig, VersionPolicy
from modelserve.serve.server import EmbeddedTriton
from tests.helpers import save, scale_model

# As a deployer writes it for NGC Triton's native ONNX Runtime backend: platform, not backend;
# a TensorRT accelerator and ORT parameters. It must load unchanged in the embedded server.
PRODUCTION_CONFIG = """
name: "prod_scale"
platform: "onnxruntime_onnx"
max_batch_size: 32
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { kind: KIND_CPU count: 2 } ]
dynamic_batching { preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 500 }
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
optimization { execution_accelerators {
  gpu_execution_accelerator : [ {
    name : "tensorrt"
    parameters { key: "precision_mode" value: "FP16" }
    parameters { key: "max_workspace_size_bytes" value: "1073741824" } } ] } }
"""

SCALE_IO: dict[str, Any] = {
    "inputs": (TensorConfig(name="x", data_type="FP32", dims=(4,)),),
    "outputs": (TensorConfig(name="y", data_type="FP32", dims=(4,)),),
    "max_batch_size": 32,
}


def build_repository(root: Path) -> list[DemoModel]:
    demo = export_demo_set(root)
    save(scale_model(3.0), root / "prod_scale" / "1" / "model.onnx")
    (root / "prod_scale" / "config.pbtxt").write_text(PRODUCTION_CONFIG)
    # Two versions served side by side: v1 doubles, v2 triples.
    versioned = ModelEntry(name="versioned", version_policy=VersionPolicy(kind="all"), **SCALE_IO)
    ModelRepository(root).write_version(versioned, scale_model(2.0), version=1)
    ModelRepository(root).write_version(versioned, scale_model(3.0), version=2)
    # One that batches, for the batching test: a 20 ms window so a loaded CI box still batches.
    batched = ModelEntry(
        name="batched", dynamic_batching=DynamicBatching(max_queue_delay_us=20000), **SCALE_IO
    )
    ModelRepository(root).write_version(batched, scale_model(5.0), version=1)
    # A model that serves v1 and later receives a corrupt v2.
    ModelRepository(root).write_version(ModelEntry(name="flaky", **SCALE_IO), scale_model(7.0), version=1)
    return demo


@pytest.fixture(scope="session")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoModel]]:
    root = tmp_path_factory.mktemp("model_repository")
    return root, build_repository(root)


@pytest.fixture(scope="session")
def server(
    repository: tuple[Path, list[DemoModel]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedTriton]:
    root, _ = repository
    with local_triton(root, tmp_path_factory.mktemp("work"), lock_control_plane=False) as triton:
        yield triton
