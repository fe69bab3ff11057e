"""model.py (the adapter between Triton's stub and OrtRunner) with a stand-in for the stub's
``triton_python_backend_utils``: request decoding, batching, requested outputs, error responses.
The real stub is exercised by the integration tests."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import save, scale_model

BACKEND = Path(__file__).resolve().parents[2] / "serve" / "backend" / "model.py"


class _Capsule:
    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, **_: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU


class FakeTensor:
    def __init__(self, name: str, array: np.ndarray) -> None:
        self._name, self.array = name, array

    def name(self) -> str:
        return self._name

    def __dlpack__(self, **kw: Any) -> Any:
        return self.array.__dlpack__(**kw)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)

    def as_numpy(self) -> np.ndarray:
        return self.array

    @classmethod
    def from_dlpack(cls, name: str, capsule: Any) -> FakeTensor:
        return cls(name, np.from_dlpack(_Capsule(capsule)).copy())


class FakeRequest:
    def __init__(self, inputs: dict[str, np.ndarray], wanted: list[str] | None = None) -> None:
        self.inputs = inputs
        self.wanted = wanted or []

    def requested_output_names(self) -> list[str]:
        return self.wanted


class FakeResponse:
    def __init__(self, output_tensors: list[FakeTensor] | None = None, error: Any = None) -> None:
        self.outputs = {t.name(): t.array for t in output_tensors or []}
        self.error = error


@pytest.fixture
def backend(monkeypatch, tmp_path):
    pb = types.ModuleType("triton_python_backend_utils")
    pb.Tensor = FakeTensor  # type: ignore[attr-defined]
    pb.InferenceResponse = FakeResponse  # type: ignore[attr-defined]
    pb.TritonError = str  # type: ignore[attr-defined]
    pb.get_input_tensor_by_name = lambda req, name: (  # type: ignore[attr-defined]
        FakeTensor(name, req.inputs[name]) if name in req.inputs else None
    )
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", pb)
    spec = importlib.util.spec_from_file_location("modelserve_backend_model", BACKEND)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    save(scale_model(2.0), tmp_path / "1" / "model.onnx")
    config = {
        "max_batch_size": 8,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}],
    }
    model = module.TritonPythonModel()
    model.initialize(
        {
            "model_config": json.dumps(config),
            "model_repository": str(tmp_path),
            "model_version": "1",
            "model_instance_kind": "CPU",
            "model_instance_device_id": "0",
        }
    )
    return model


def test_each_request_gets_its_own_rows_back(backend):
    xs = [np.full((n, 4), n, dtype=np.float32) for n in (1, 2, 3)]
    responses = backend.execute([FakeRequest({"x": x}) for x in xs])
    for x, response in zip(xs, responses, strict=True):
        assert response.error is None
        np.testing.assert_array_equal(response.outputs["y"], x * 2)


def test_only_requested_outputs_are_returned(backend):
    (response,) = backend.execute([FakeRequest({"x": np.ones((1, 4), np.float32)}, wanted=["nothing_else"])])
    assert response.outputs == {}


def test_a_failing_request_gets_an_error_response_and_the_others_answers(backend):
    good = FakeRequest({"x": np.ones((1, 4), np.float32)})
    bad = FakeRequest({"x": np.ones((1, 3), np.float32)})
    responses = backend.execute([good, bad])
    assert responses[0].error is None and "y" in responses[0].outputs
    assert responses[1].error is not None
