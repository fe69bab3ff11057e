"""Promote, roll back and retire model versions on a running Triton (explicit model control).

A promotion never lets a broken version answer, and never drops a request:

1. load the new version *beside* the served one (Triton's load API with a version-policy override;
   the served version keeps answering throughout, and keeps answering if the load fails);
2. verify it: ready, a warm-up, then a parity sample — Triton's answers for random inputs equal
   ONNX Runtime's on the version's own ``model.onnx`` (so it serves *that* file, correctly);
3. switch: ``lifecycle.json`` names it the served version (the API reads that within its cache TTL);
4. after a grace period (in-flight and cached calls to the old version finish), unload the old one
   unless ``keep_previous``; persist the version policy in config.pbtxt so a restart serves the same.

Any failure before step 3 restores the previous version set and raises ``LifecycleError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import triton_to_np_dtype

from client import ClientError, TritonClient
from contracts.lifecycle import LifecycleState, read_state, write_state
from export.config import read_config, write_config
from modelserve.errors import LifecycleError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    name: str
    action: str
    version: int
    previous: list[int]
    loaded: list[int]  # versions loaded in Triton afterwards
    max_abs_diff: float = 0.0


def ready_versions(client: TritonClient, name: str) -> list[int]:
    return sorted(
        int(e.version)
        for e in client.repository_index()
        if e.name == name and e.state == "READY" and e.version.isdigit()
    )


def _with_policy(client: TritonClient, name: str, versions: set[int]) -> mc.ModelConfig:
    config = client.config(name)
    config.version_policy.Clear()
    config.version_policy.specific.versions.extend(sorted(versions))
    return config


def _load(client: TritonClient, name: str, versions: set[int]) -> None:
    config = _with_policy(client, name, versions)
    client.load(name, config=json_format.MessageToJson(config, preserving_proto_field_name=True))


def _sample(config: mc.ModelConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    inputs = {}
    for tensor in config.input:
        # TYPE_FP32 -> "FP32" -> np.float32; strings and BF16 have no sample we can draw.
        dtype = triton_to_np_dtype(mc.DataType.Name(tensor.data_type).removeprefix("TYPE_"))
        if dtype is None or dtype is np.object_ or not np.issubdtype(dtype, np.number):
            raise LifecycleError(f"input {tensor.name}: data type {tensor.data_type} cannot be sampled")
        # Two rows where the model batches; variable dims (-1) get 4.
        shape = ([2] if config.max_batch_size > 0 else []) + [int(d) if d > 0 else 4 for d in tensor.dims]
        if np.issubdtype(dtype, np.integer):
            inputs[tensor.name] = np.zeros(shape, dtype)  # token ids, indices: 0 is valid everywhere
        else:
            inputs[tensor.name] = rng.normal(size=shape).astype(dtype)
    return inputs


def verify(client: TritonClient, repository: Path, name: str, version: int, *, samples: int = 4) -> float:
    """Warm-up and parity sample against ONNX Runtime on the version's file; max |difference|."""
    config = client.config(name)
    path = repository / name / str(version) / (config.default_model_filename or "model.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(samples):
        inputs = _sample(config, rng)
        served = client.infer(name, inputs, version=str(version))
        names = [o.name for o in session.get_outputs()]
        expected = dict(zip(names, session.run(None, inputs), strict=True))
        for key, got in served.items():
            want = np.asarray(expected[key])
            if want.size != got.size:
                raise LifecycleError(f"v{version} output {key}: {got.shape} served, {want.shape} expected")
            want = want.reshape(got.shape)
            if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
                diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
                raise LifecycleError(
                    f"v{version} output {key} differs from ONNX Runtime (max |diff| {diff:.3g})"
                )
            if got.size:
                worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))))
    return worst


def _persist_policy(repository: Path, name: str, versions: set[int]) -> None:
    """The version policy written into config.pbtxt, so a restarted Triton serves the same set."""
    path = repository / name / "config.pbtxt"
    config = read_config(path)
    config.version_policy.Clear()
    config.version_policy.specific.versions.extend(sorted(versions))
    write_config(path, config)


def promote(
    client: TritonClient,
    repository: Path,
    name: str,
    version: int,
    *,
    action: str = "promote",
    keep_previous: bool = False,
    grace_s: float = 2.0,
    samples: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    if not (repository / name / str(version)).is_dir():
        raise LifecycleError(f"{name} has no version {version} in {repository}")
    state = read_state(repository, name)
    if version in state.retired:
        raise LifecycleError(f"{name} v{version} is retired")
    current = ready_versions(client, name)
    if not current:
        raise LifecycleError(f"{name} is not loaded in Triton; load it first (modelserve models load)")
    served = state.served if state.served in current else current[-1]
    try:
        _load(client, name, {*current, version})
        if not client.is_model_ready(name, str(version)):
            raise LifecycleError(f"{name} v{version} loaded but is not ready")
        worst = verify(client, repository, name, version, samples=samples)
    except (ClientError, LifecycleError, OSError, ValueError) as exc:
        _restore(client, name, set(current))
        raise LifecycleError(f"{name} v{version} was not {action}d: {exc}; still serving v{served}") from exc
    if served != version:
        state.previous.append(served)
    state.served = version
    state.record(action, version, replaced=served, max_abs_diff=worst)
    write_state(repository, name, state)  # the switch: the API follows within its cache TTL
    sleep(grace_s)  # calls that resolved the old version finish before it goes
    final = {version, served} if keep_previous else {version}
    if final != {*current, version}:
        _load(client, name, final)
    _persist_policy(repository, name, final)
    return Outcome(
        name=name,
        action=action,
        version=version,
        previous=[served],
        loaded=ready_versions(client, name),
        max_abs_diff=worst,
    )


def _restore(client: TritonClient, name: str, versions: set[int]) -> None:
    try:
        if set(ready_versions(client, name)) != versions:
            _load(client, name, versions)
    except ClientError as exc:  # report the first failure, not this one
        logger.warning("could not restore %s to versions %s: %s", name, sorted(versions), exc)


def rollback(
    client: TritonClient,
    repository: Path,
    name: str,
    version: int | None = None,
    *,
    keep_previous: bool = False,
    grace_s: float = 2.0,
) -> Outcome:
    """Back to ``version``, or to the version served before the current one."""
    state = read_state(repository, name)
    if version is None:
        earlier = [v for v in state.previous if v != state.served and v not in state.retired]
        if not earlier:
            raise LifecycleError(f"{name} has no earlier served version to roll back to")
        version = earlier[-1]
    return promote(
        client, repository, name, version, action="rollback", keep_previous=keep_previous, grace_s=grace_s
    )


def retire(client: TritonClient, repository: Path, name: str, version: int) -> Outcome:
    """Unload a version that is not the served one and keep it from being promoted again."""
    state = read_state(repository, name)
    current = ready_versions(client, name)
    served = state.served if state.served in current else (current[-1] if current else None)
    if version == served:
        raise LifecycleError(f"{name} v{version} is the served version; promote another one first")
    if version in current:
        _load(client, name, set(current) - {version})
        _persist_policy(repository, name, set(current) - {version})
    if version not in state.retired:
        state.retired.append(version)
    state.record("retire", version)
    write_state(repository, name, state)
    return Outcome(
        name=name, action="retire", version=version, previous=[], loaded=ready_versions(client, name)
    )


__all__ = ["LifecycleState", "Outcome", "promote", "ready_versions", "retire", "rollback", "verify"]
