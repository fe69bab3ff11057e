"""Triton Python-based backend ``onnxruntime``: the adapter between Triton's stub and OrtRunner.

Installed as ``<backend-dir>/onnxruntime/model.py``; Triton uses it for every model whose config
says ``backend: "onnxruntime"`` or ``platform: "onnxruntime_onnx"`` when no C++ ORT backend exists.
It does what Triton's ONNX Runtime backend does at load: auto-completes a missing or partial config
from the graph (``auto_complete_config``) and refuses a config that disagrees with the graph
(``initialize``), both with Triton's rules and messages; and it feeds the sequence batcher's
control and state tensors to the graph.

Numeric tensors cross the stub through DLPack (zero-copy, exact). BYTES tensors cannot (DLPack has
no string type): they use ``as_numpy()``/``Tensor(...)``, which are sound because the stub runs in
an environment with numpy 1.x (serve/stub_env.py). ONNX Runtime's Python API takes and gives
strings as UTF-8 text, so BYTES elements are decoded on the way in and encoded on the way out.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import sys
from dataclasses import replace
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils  # provided by the stub

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelserve_autocomplete import auto_complete, needs_completion
from modelserve_ort_runner import TRITON_TO_NUMPY, OrtRunner, RunnerError, RunnerSettings, TensorSpec
from modelserve_sequence import SequenceSpec, StateStore
from modelserve_signature import ModelConfigError, read_signature, validate

logger = logging.getLogger(__name__)

# The stub renames a consumed capsule to "used_dlpack"; numpy's capsule destructor only recognises
# "used_dltensor" and otherwise prints an error per output. Rename it back after the stub took it.
_USED_NAME = ctypes.c_char_p(b"used_dltensor")
_set_capsule_name = ctypes.pythonapi.PyCapsule_SetName
_set_capsule_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
_set_capsule_name.restype = ctypes.c_int


def _model_path(config: dict[str, Any], version_dir: str) -> str:
    return os.path.join(version_dir, config.get("default_model_filename") or "model.onnx")


def _text(name: str, raw: np.ndarray) -> np.ndarray:
    """BYTES elements as the UTF-8 text ONNX Runtime's Python API takes."""
    try:
        text = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in raw.ravel()]
    except UnicodeDecodeError as exc:
        raise RunnerError(
            f"input '{name}' holds bytes that are not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "the embedded server passes strings to ONNX Runtime's Python API, which takes UTF-8 only"
        ) from None
    return np.array(text, dtype=np.object_).reshape(raw.shape)


def _input_array(name: str, tensor: Any, spec: TensorSpec | None) -> np.ndarray:
    if spec is not None and spec.dtype is np.object_:
        return _text(name, tensor.as_numpy())
    return np.from_dlpack(tensor)


def _output_tensor(name: str, array: np.ndarray) -> Any:
    if array.dtype == np.object_ or array.dtype.kind in ("S", "U"):
        return pb_utils.Tensor(name, array.astype(np.object_))  # str items are sent as UTF-8
    array = np.ascontiguousarray(array)
    capsule = array.__dlpack__()
    tensor = pb_utils.Tensor.from_dlpack(name, capsule)
    _set_capsule_name(capsule, _USED_NAME)
    return tensor


def _sequence_inputs(spec: SequenceSpec | None) -> tuple[TensorSpec, ...]:
    if spec is None:
        return ()
    return tuple(
        TensorSpec(name=name, dtype=TRITON_TO_NUMPY[data_type], dims=dims)
        for name, data_type, dims in spec.extra_inputs()
        if data_type in TRITON_TO_NUMPY
    )


class TritonPythonModel:
    """One instance per Triton model instance (instance_group count x devices)."""

    @staticmethod
    def auto_complete_config(auto_complete_model_config: Any) -> Any:
        """Fill inputs, outputs, max_batch_size and dynamic batching from the graph, as Triton's does."""
        config = auto_complete_model_config.as_dict()
        if not needs_completion(config):
            return auto_complete_model_config
        path = _model_path(config, pb_utils.get_model_dir())
        if not os.path.isfile(path):
            raise ModelConfigError(f"unable to load model '{config.get('name')}': {path} does not exist")
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        completed, notes = auto_complete(config, read_signature(session))
        # as_dict() is the very dict the stub sends back to Triton; its helpers cannot add a reshape.
        config.clear()
        config.update(completed)
        for note in notes:
            logger.warning("model '%s': %s", config.get("name"), note)
        return auto_complete_model_config

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.sequence = SequenceSpec.from_config(config)
        settings = RunnerSettings.from_triton(
            config,
            kind=args.get("model_instance_kind", "CPU"),
            device_id=int(args.get("model_instance_device_id", 0)),
        )
        settings = replace(settings, inputs=settings.inputs + _sequence_inputs(self.sequence))
        path = _model_path(config, os.path.join(args["model_repository"], args["model_version"]))
        self.runner = OrtRunner(path, settings)
        validate(config, read_signature(self.runner.session))
        self.input_specs = {spec.name: spec for spec in settings.inputs}
        # What Triton sends when a request names no outputs; state outputs are not among them.
        self.config_outputs = {str(t["name"]) for t in config.get("output", [])}
        self.states = StateStore(self.sequence) if self.sequence is not None else None
        self.runner.warm_up()
        # The stub lives as long as the model: keep its startup heap (numpy, ORT) out of the
        # collector's full passes, which otherwise stall an execution now and then (as in the API).
        gc.collect()
        gc.freeze()

    def _inputs(self, request: Any) -> dict[str, np.ndarray]:
        inputs: dict[str, np.ndarray] = {}
        for name, spec in self.input_specs.items():
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is not None:
                inputs[name] = _input_array(name, tensor, spec)
        if self.states is not None:
            inputs = self.states.feed(request.correlation_id(), request.flags(), inputs)
        return inputs

    def execute(self, requests: list[Any]) -> list[Any]:
        results: list[dict[str, np.ndarray] | Exception | None] = [None] * len(requests)
        batch: list[dict[str, np.ndarray]] = []
        slots: list[int] = []
        for i, request in enumerate(requests):
            try:
                batch.append(self._inputs(request))
                slots.append(i)
            except RunnerError as exc:  # this request's data cannot be fed; the others still run
                results[i] = exc
        for i, result in zip(slots, self.runner.run(batch) if batch else [], strict=True):
            results[i] = result
        responses = []
        for request, result in zip(requests, results, strict=True):
            if not isinstance(result, dict):
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(result))))
                continue
            if self.states is not None:
                self.states.keep(request.correlation_id(), request.flags(), result)
            wanted = set(request.requested_output_names()) or self.config_outputs
            tensors = [_output_tensor(n, a) for n, a in result.items() if n in wanted]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def finalize(self) -> None:
        del self.runner


__all__ = ["ModelConfigError", "RunnerError", "TritonPythonModel"]
