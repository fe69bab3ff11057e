"""Triton Python-based backend ``onnxruntime``: the adapter between Triton's stub and OrtRunner.

Installed as ``<backend-dir>/onnxruntime/model.py``; Triton uses it for every model whose config
says ``backend: "onnxruntime"`` or ``platform: "onnxruntime_onnx"`` when no C++ ORT backend exists.

Tensors cross the stub through DLPack, not ``as_numpy()``/``Tensor(name, ndarray)``: the stub was
built against numpy 1.x and those two paths corrupt data under numpy 2. BYTES tensors cannot travel
through DLPack (it has no string type); they use ``as_numpy()``/``Tensor(...)`` with object arrays,
which is what the stub supports for them.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by the stub

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelserve_ort_runner import OrtRunner, RunnerError, RunnerSettings

# The stub renames a consumed capsule to "used_dlpack"; numpy's capsule destructor only recognises
# "used_dltensor" and otherwise prints an error per output. Rename it back after the stub took it.
_USED_NAME = ctypes.c_char_p(b"used_dltensor")
_set_capsule_name = ctypes.pythonapi.PyCapsule_SetName
_set_capsule_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
_set_capsule_name.restype = ctypes.c_int


def _input_array(tensor: Any) -> np.ndarray:
    try:
        return np.from_dlpack(tensor)
    except (TypeError, BufferError, RuntimeError):
        return np.asarray(tensor.as_numpy())  # BYTES: no DLPack for strings


def _output_tensor(name: str, array: np.ndarray) -> Any:
    if array.dtype == np.object_ or array.dtype.kind in ("S", "U"):
        return pb_utils.Tensor(name, array.astype(np.object_))
    array = np.ascontiguousarray(array)
    capsule = array.__dlpack__()
    tensor = pb_utils.Tensor.from_dlpack(name, capsule)
    _set_capsule_name(capsule, _USED_NAME)
    return tensor


class TritonPythonModel:
    """One instance per Triton model instance (instance_group count x devices)."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        settings = RunnerSettings.from_triton(
            config,
            kind=args.get("model_instance_kind", "CPU"),
            device_id=int(args.get("model_instance_device_id", 0)),
        )
        filename = config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        self.runner = OrtRunner(path, settings)
        self.input_names = [spec.name for spec in settings.inputs]
        self.runner.warm_up()
        # The stub lives as long as the model: keep its startup heap (numpy, ORT) out of the
        # collector's full passes, which otherwise stall an execution now and then (as in the API).
        gc.collect()
        gc.freeze()

    def execute(self, requests: list[Any]) -> list[Any]:
        batch: list[dict[str, np.ndarray]] = []
        for request in requests:
            inputs: dict[str, np.ndarray] = {}
            for name in self.input_names:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is not None:
                    inputs[name] = _input_array(tensor)
            batch.append(inputs)
        responses = []
        for request, result in zip(requests, self.runner.run(batch), strict=True):
            if isinstance(result, Exception):
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(result))))
                continue
            wanted = set(request.requested_output_names()) or set(result)
            tensors = [_output_tensor(n, a) for n, a in result.items() if n in wanted]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def finalize(self) -> None:
        del self.runner


__all__ = ["RunnerError", "TritonPythonModel"]
