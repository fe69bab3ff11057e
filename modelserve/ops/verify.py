"""A version on a live Triton checked against its own file: a warm-up, then a parity sample of
random inputs whose answers must equal ONNX Runtime's on the version's ``model.onnx``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import triton_to_np_dtype

from modelserve.client import TritonClient
from modelserve.ops.errors import LifecycleError
from modelserve.repository import ModelRepository


def sample_inputs(config: mc.ModelConfig, rng: np.random.Generator, rows: int = 2) -> dict[str, np.ndarray]:
    """Random inputs of the config's types and shapes: ``rows`` rows where the model batches."""
    inputs = {}
    for tensor in config.input:
        # TYPE_FP32 -> "FP32" -> np.float32; strings and BF16 have no sample we can draw.
        dtype = triton_to_np_dtype(mc.DataType.Name(tensor.data_type).removeprefix("TYPE_"))
        if dtype is None or dtype is np.object_ or not np.issubdtype(dtype, np.number):
            raise LifecycleError(f"input {tensor.name}: data type {tensor.data_type} cannot be sampled")
        # Variable dims (-1) get 4.
        shape = ([rows] if config.max_batch_size > 0 else []) + [int(d) if d > 0 else 4 for d in tensor.dims]
        if np.issubdtype(dtype, np.integer):
            inputs[tensor.name] = np.zeros(shape, dtype)  # token ids, indices: 0 is valid everywhere
        else:
            inputs[tensor.name] = rng.normal(size=shape).astype(dtype)
    return inputs


def verify(
    client: TritonClient, repository: ModelRepository | Path, name: str, version: int, *, samples: int = 4
) -> float:
    """Warm-up and parity sample against ONNX Runtime on the version's file; max |difference|."""
    config = client.config(name)
    version_dir = ModelRepository.of(repository).version_dir(name, version)
    path = version_dir / (config.default_model_filename or "model.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(samples):
        inputs = sample_inputs(config, rng)
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
