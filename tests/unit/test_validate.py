from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from modelserve.repository.config import build_config
from modelserve.repository.errors import ConfigValidationError
from modelserve.repository.graph import read_signature
from modelserve.repository.spec import ModelEntry, TensorConfig
from modelserve.repository.validate import validate_config
from tests.helpers import scale_model


def _config(inputs, outputs, max_batch_size=8):
    return build_config(ModelEntry(name="m", max_batch_size=max_batch_size, inputs=inputs, outputs=outputs))


X = TensorConfig(name="x", data_type="FP32", dims=(4,))
Y = TensorConfig(name="y", data_type="FP32", dims=(4,))


def test_matching_config_passes():
    validate_config(_config((X,), (Y,)), read_signature(scale_model(2.0)))


def test_missing_graph_input_and_unknown_config_input_are_both_named():
    bad = TensorConfig(name="z", data_type="FP32", dims=(4,))
    with pytest.raises(ConfigValidationError) as err:
        validate_config(_config((bad,), (Y,)), read_signature(scale_model(2.0)))
    assert "graph input 'x' is missing" in str(err.value)
    assert "config input 'z' is not a graph input" in str(err.value)


def test_type_mismatch_is_named():
    with pytest.raises(
        ConfigValidationError, match="input 'x': data_type TYPE_FP64 in the config but TYPE_FP32"
    ):
        validate_config(
            _config((TensorConfig(name="x", data_type="FP64", dims=(4,)),), (Y,)),
            read_signature(scale_model(2.0)),
        )


def test_dim_mismatch_is_named():
    with pytest.raises(
        ConfigValidationError, match="output 'y': dim 0 is 5 in the config but 4 in the graph"
    ):
        validate_config(
            _config((X,), (TensorConfig(name="y", data_type="FP32", dims=(5,)),)),
            read_signature(scale_model(2.0)),
        )


def test_batching_config_needs_a_variable_batch_dim_in_the_graph():
    with pytest.raises(ConfigValidationError, match="variable first \\(batch\\) dim"):
        validate_config(_config((X,), (Y,)), read_signature(scale_model(2.0, batch=False)))


def test_non_batching_config_compares_the_full_shape():
    x = TensorConfig(name="x", data_type="FP32", dims=(1, 4))
    y = TensorConfig(name="y", data_type="FP32", dims=(1, 4))
    validate_config(_config((x,), (y,), max_batch_size=0), read_signature(scale_model(2.0, batch=False)))
    with pytest.raises(ConfigValidationError, match="rank 1"):
        validate_config(_config((X,), (Y,), max_batch_size=0), read_signature(scale_model(2.0, batch=False)))


def test_reshape_with_different_element_count_is_refused():
    x = TensorConfig(name="x", data_type="FP32", dims=(2, 3), reshape=(4,))
    with pytest.raises(ConfigValidationError, match="6 elements.*4 elements"):
        validate_config(_config((x,), (Y,)), read_signature(scale_model(2.0)))


def test_reshape_compares_the_model_side_shape():
    x = TensorConfig(name="x", data_type="FP32", dims=(2, 2), reshape=(4,))
    validate_config(_config((x,), (Y,)), read_signature(scale_model(2.0)))


def test_string_tensors_are_accepted_when_the_graph_has_strings():
    text = helper.make_tensor_value_info("text", TensorProto.STRING, ["N", 2])
    same = helper.make_tensor_value_info("same", TensorProto.STRING, ["N", 2])
    graph = helper.make_graph([helper.make_node("Identity", ["text"], ["same"])], "s", [text], [same])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    x = TensorConfig(name="text", data_type="STRING", dims=(2,))
    y = TensorConfig(name="same", data_type="STRING", dims=(2,))
    validate_config(_config((x,), (y,)), read_signature(model))
    with pytest.raises(ConfigValidationError, match="data_type TYPE_STRING in the config but TYPE_FP32"):
        validate_config(
            _config((TensorConfig(name="x", data_type="STRING", dims=(4,)),), (Y,)),
            read_signature(scale_model(2.0)),
        )


def test_output_dims_must_equal_a_variable_graph_dim_as_triton_requires():
    """Triton loads an input that fixes a variable graph dim, but not an output (NGC refuses it too)."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", "K"])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", "K"])
    graph = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "v", [a], [b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    fixed_in = TensorConfig(name="a", data_type="FP32", dims=(3,))
    variable_out = TensorConfig(name="b", data_type="FP32", dims=(-1,))
    validate_config(_config((fixed_in,), (variable_out,)), read_signature(model))
    with pytest.raises(
        ConfigValidationError, match=r"output 'b': dim 0 is 3 in the config but variable \(-1\)"
    ):
        validate_config(
            _config((fixed_in,), (TensorConfig(name="b", data_type="FP32", dims=(3,)),)),
            read_signature(model),
        )


def test_opset_newer_than_the_ngc_runtime_is_refused():
    with pytest.raises(ConfigValidationError, match="opset ai.onnx 22 is newer than 21"):
        validate_config(_config((X,), (Y,)), read_signature(scale_model(2.0, opset=22)))


def test_all_problems_are_reported_at_once():
    x = TensorConfig(name="x", data_type="INT32", dims=(3,))
    with pytest.raises(ConfigValidationError) as err:
        validate_config(_config((x,), (Y,)), read_signature(scale_model(2.0)))
    assert "data_type TYPE_INT32" in str(err.value) and "dim 0 is 3" in str(err.value)
