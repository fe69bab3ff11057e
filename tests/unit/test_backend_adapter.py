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
import onnx
import pytest
from onnx import TensorProto, helper

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
    def __init__(
        self, inputs: dict[str, np.ndarray], wanted: list[str] | None = None, corrid: int = 0, flags: int = 0
    ) -> None:
        self.inputs = inputs
        self.wanted = wanted or []
        self.corrid, self._flags = corrid, flags

    def requested_output_names(self) -> list[str]:
        return self.wanted

    def correlation_id(self) -> int:
        return self.corrid

    def flags(self) -> int:
        return self._flags


class FakeResponse:
    def __init__(self, output_tensors: list[FakeTensor] | None = None, error: Any = None) -> None:
        self.outputs = {t.name(): t.array for t in output_tensors or []}
        self.error = error


@pytest.fixture
def module(monkeypatch, tmp_path):
    pb = types.ModuleType("triton_python_backend_utils")
    pb.Tensor = FakeTensor  # type: ignore[attr-defined]
    pb.InferenceResponse = FakeResponse  # type: ignore[attr-defined]
    pb.TritonError = str  # type: ignore[attr-defined]
    pb.get_input_tensor_by_name = lambda req, name: (  # type: ignore[attr-defined]
        FakeTensor(name, req.inputs[name]) if name in req.inputs else None
    )
    pb.get_model_dir = lambda: str(tmp_path / "1")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", pb)
    spec = importlib.util.spec_from_file_location("modelserve_backend_model", BACKEND)
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _initialize(module: Any, tmp_path: Path, config: dict[str, Any], model: onnx.ModelProto) -> Any:
    save(model, tmp_path / "1" / "model.onnx")
    instance = module.TritonPythonModel()
    instance.initialize(
        {
            "model_config": json.dumps({"name": "m", **config}),
            "model_repository": str(tmp_path),
            "model_version": "1",
            "model_instance_kind": "CPU",
            "model_instance_device_id": "0",
        }
    )
    return instance


SCALE_CONFIG = {
    "max_batch_size": 8,
    "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
    "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}],
}


@pytest.fixture
def backend(module, tmp_path):
    return _initialize(module, tmp_path, SCALE_CONFIG, scale_model(2.0))


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


def test_a_config_that_contradicts_the_graph_fails_initialize_in_tritons_words(module, tmp_path):
    config = {**SCALE_CONFIG, "input": [{"name": "x", "data_type": "TYPE_INT32", "dims": [4]}]}
    with pytest.raises(
        module.ModelConfigError, match="configuration expects datatype TYPE_INT32 for input 'x'"
    ):
        _initialize(module, tmp_path, config, scale_model(2.0))


def _accumulator() -> onnx.ModelProto:
    ins = [helper.make_tensor_value_info(n, TensorProto.INT32, ["N", 1]) for n in ("IN", "ACC_IN")]
    outs = [helper.make_tensor_value_info(n, TensorProto.INT32, ["N", 1]) for n in ("OUT", "ACC_OUT")]
    nodes = [
        helper.make_node("Add", ["IN", "ACC_IN"], ["OUT"]),
        helper.make_node("Add", ["IN", "ACC_IN"], ["ACC_OUT"]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "acc", ins, outs), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model


def test_implicit_state_follows_each_sequence_in_a_mixed_batch(module, tmp_path):
    config = {
        "max_batch_size": 8,
        "input": [{"name": "IN", "data_type": "TYPE_INT32", "dims": [1]}],
        "output": [{"name": "OUT", "data_type": "TYPE_INT32", "dims": [1]}],
        "sequence_batching": {
            "state": [
                {"input_name": "ACC_IN", "output_name": "ACC_OUT", "data_type": "TYPE_INT32", "dims": [1]}
            ]
        },
    }
    backend = _initialize(module, tmp_path, config, _accumulator())
    zero = np.zeros((1, 1), np.int32)  # what the core puts in the state input: the initial state

    def step(corrid: int, value: int, flags: int = 0) -> FakeRequest:
        return FakeRequest(
            {"IN": np.full((1, 1), value, np.int32), "ACC_IN": zero}, corrid=corrid, flags=flags
        )

    first = backend.execute([step(1, 5, flags=1), step(2, 100, flags=1), step(0, 9)])  # 0: a null request
    second = backend.execute([step(2, 1), step(1, 5, flags=2)])
    third = backend.execute([step(2, 1, flags=2)])
    assert [int(r.outputs["OUT"][0, 0]) for r in first[:2]] == [5, 100]
    assert [int(r.outputs["OUT"][0, 0]) for r in second] == [101, 10]
    assert int(third[0].outputs["OUT"][0, 0]) == 102
    assert len(backend.states) == 0  # both sequences ended
    assert all("ACC_OUT" not in r.outputs for r in first[:2])  # state is not an output of the config


def _string_identity() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("s", TensorProto.STRING, ["N", 2])
    y = helper.make_tensor_value_info("t", TensorProto.STRING, ["N", 2])
    graph = helper.make_graph([helper.make_node("Identity", ["s"], ["t"])], "id", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_bytes_that_are_not_utf8_fail_only_their_own_request(module, tmp_path):
    config = {
        "max_batch_size": 8,
        "input": [{"name": "s", "data_type": "TYPE_STRING", "dims": [2]}],
        "output": [{"name": "t", "data_type": "TYPE_STRING", "dims": [2]}],
    }
    backend = _initialize(module, tmp_path, config, _string_identity())
    good = FakeRequest({"s": np.array([[b"caf\xc3\xa9", b""]], dtype=np.object_)})
    bad = FakeRequest({"s": np.array([[b"ok", b"\xff"]], dtype=np.object_)})
    responses = backend.execute([good, bad])
    assert responses[0].error is None and responses[0].outputs["t"].tolist() == [["caf\u00e9", ""]]
    assert "not UTF-8" in str(responses[1].error)


class FakeModelConfig:
    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def as_dict(self) -> dict[str, Any]:
        return self._config


def test_auto_complete_config_fills_a_bare_config_from_the_graph(module, tmp_path):
    save(scale_model(2.0), tmp_path / "1" / "model.onnx")
    bare = FakeModelConfig({"name": "m", "max_batch_size": 0, "input": [], "output": []})
    done = module.TritonPythonModel.auto_complete_config(bare).as_dict()
    assert done["max_batch_size"] == 4 and done["dynamic_batching"] == {}
    assert done["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]
    assert done["output"] == [{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}]
