"""Config-vs-graph checks and auto-complete at load (serve/backend/modelserve_signature.py,
modelserve_autocomplete.py): Triton's rules and words, on signatures read from real ORT sessions."""

from __future__ import annotations

from typing import Any

import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from modelserve.serve.backend.modelserve_autocomplete import auto_complete, needs_completion
from modelserve.serve.backend.modelserve_signature import (
    ModelConfigError,
    Signature,
    read_signature,
    validate,
)
from tests.helpers import scale_model


def _sig(model: Any) -> Signature:
    return read_signature(ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]))


SCALE = _sig(scale_model(2.0))
UNBATCHED = _sig(scale_model(2.0, batch=False))


def _config(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "m",
        "max_batch_size": 8,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}],
    }
    return {**config, **changes}


def test_signature_reads_names_types_and_symbolic_dims_as_minus_one():
    assert SCALE.inputs["x"].data_type == "TYPE_FP32" and SCALE.inputs["x"].dims == (-1, 4)
    assert UNBATCHED.outputs["y"].dims == (1, 4)


def test_a_matching_config_passes():
    validate(_config(), SCALE)
    validate(
        _config(
            max_batch_size=0,
            input=[{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 4]}],
            output=[{"name": "y", "data_type": "TYPE_FP32", "dims": [-1, 4]}],
        ),
        SCALE,
    )


@pytest.mark.parametrize(
    ("changes", "sig", "words"),
    [
        (
            {"output": [{"name": "z", "data_type": "TYPE_FP32", "dims": [4]}]},
            SCALE,
            "unexpected inference output 'z', allowed outputs are: y",
        ),
        (
            {"input": [{"name": "z", "data_type": "TYPE_FP32", "dims": [4]}]},
            SCALE,
            "unexpected inference input 'z', allowed inputs are: x",
        ),
        ({"input": []}, SCALE, "unable to load model 'm', configuration expects 0 inputs, model provides 1"),
        (
            {"output": [{"name": "y", "data_type": "TYPE_FP64", "dims": [4]}]},
            SCALE,
            "configuration expects datatype TYPE_FP64 for output 'y', model provides TYPE_FP32",
        ),
        (
            {"output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [5]}]},
            SCALE,
            "the model expects 2 dimensions (shape [-1,4]) but the model configuration specifies "
            "2 dimensions (an initial batch dimension because max_batch_size > 0 followed by the "
            "explicit tensor shape, making complete shape [-1,5])",
        ),
        (
            {},
            UNBATCHED,
            "for the model to support batching the shape should have at least 1 dimension and the "
            "first dimension must be -1; but shape expected by the model is [1,4]",
        ),
        (
            {"max_batch_size": 0},
            SCALE,
            "tensor 'x': the model expects 2 dimensions (shape [-1,4]) but the model configuration specifies "
            "1 dimensions (shape [4])",
        ),
    ],
)
def test_each_mismatch_is_refused_in_tritons_words(changes, sig, words):
    with pytest.raises(ModelConfigError) as err:
        validate(_config(**changes), sig)
    assert words in str(err.value)


def test_outputs_must_match_exactly_while_inputs_may_fix_a_variable_dim():
    """Triton compares input dims loosely and output dims exactly (CompareDimsSupported)."""
    free = _sig(scale_model(2.0))
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", ["a"], ["b"])],
            "g",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", "K"])],
            [helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", "K"])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    variable = _sig(model)
    fixed_in = _config(
        input=[{"name": "a", "data_type": "TYPE_FP32", "dims": [3]}],
        output=[{"name": "b", "data_type": "TYPE_FP32", "dims": [-1]}],
    )
    validate(fixed_in, variable)
    fixed_out = _config(
        input=fixed_in["input"], output=[{"name": "b", "data_type": "TYPE_FP32", "dims": [3]}]
    )
    with pytest.raises(ModelConfigError, match=r"making complete shape \[-1,3\]"):
        validate(fixed_out, variable)
    assert free.inputs["x"].dims == (-1, 4)


def _sequence_config(controls: list[dict[str, Any]]) -> dict[str, Any]:
    return _config(sequence_batching={"control_input": controls})


def test_sequence_controls_are_counted_and_checked_against_the_graph():
    start = {"name": "START", "control": [{"kind": "CONTROL_SEQUENCE_START", "fp32_false_true": [0, 1]}]}
    with pytest.raises(
        ModelConfigError, match="sequence control 'START', but model does not provide that input"
    ):
        validate(_sequence_config([start]), SCALE)
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])],
            "g",
            [
                helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
                helper.make_tensor_value_info("START", TensorProto.INT32, ["N", 1]),
            ],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    with pytest.raises(
        ModelConfigError,
        match="the model expects data-type INT32 but the model configuration specifies data-type TYPE_FP32",
    ):
        validate(_sequence_config([start]), _sig(model))
    int_start = {"name": "START", "control": [{"kind": "CONTROL_SEQUENCE_START", "int32_false_true": [0, 1]}]}
    validate(_sequence_config([int_start]), _sig(model))


def test_auto_complete_fills_a_bare_config_like_tritons_onnx_backend():
    done, notes = auto_complete({"name": "m", "max_batch_size": 0, "input": [], "output": []}, SCALE)
    assert done["max_batch_size"] == 4 and done["dynamic_batching"] == {}
    assert done["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]
    assert any("autofilled max_batch_size to 4" in n for n in notes)


def test_auto_complete_keeps_what_the_config_says_and_adds_no_batching_to_a_sequence_model():
    partial = {"name": "m", "max_batch_size": 16, "sequence_batching": {}, "input": [], "output": []}
    done, _ = auto_complete(partial, SCALE)
    assert done["max_batch_size"] == 16 and "dynamic_batching" not in done
    assert not needs_completion(_config()) and auto_complete(_config(), SCALE)[0] == _config()


def test_auto_complete_of_an_unbatched_graph_and_its_refusal_with_a_max_batch_size():
    done, _ = auto_complete({"name": "m", "max_batch_size": 0, "input": [], "output": []}, UNBATCHED)
    assert (
        done["max_batch_size"] == 0 and done["input"][0]["dims"] == [1, 4] and "dynamic_batching" not in done
    )
    with pytest.raises(
        ModelConfigError, match="autofill failed for model 'm': model does not support batching"
    ):
        auto_complete({"name": "m", "max_batch_size": 4, "input": [], "output": []}, UNBATCHED)


def test_a_batched_scalar_gets_dims_one_and_an_empty_reshape():
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", ["a"], ["b"])],
            "g",
            [helper.make_tensor_value_info("a", TensorProto.INT64, ["N"])],
            [helper.make_tensor_value_info("b", TensorProto.INT64, ["N"])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    done, _ = auto_complete({"name": "m", "max_batch_size": 0, "input": [], "output": []}, _sig(model))
    assert done["input"] == [{"name": "a", "data_type": "TYPE_INT64", "dims": [1], "reshape": {"shape": []}}]
    validate(done, _sig(model))
