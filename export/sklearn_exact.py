"""scikit-learn pipelines as ONNX graphs that compute what scikit-learn computes, to the last bit
that matters.

A float32 graph moves rows across tree split points: scikit-learn imputes and scales in float64,
then its trees cast that result to float32 and compare it with float64 thresholds. So the graph
takes float64 ``features``, runs the preprocessing steps in float64, and for tree models casts to
float32 exactly where scikit-learn does, in front of a tree ensemble converted for float32 input
(skl2onnx then rounds each threshold so that ``float32(x) <= t`` holds for the same x as in
scikit-learn). Other estimators get the float64 values. Probabilities leave as float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

PREPARED = "prepared"


def is_tree_model(estimator: Any) -> bool:
    """Trees and ensembles of trees: scikit-learn casts their input to float32."""
    if hasattr(estimator, "tree_"):
        return True
    members = getattr(estimator, "estimators_", None)
    if members is None:
        return False
    first = np.asarray(members, dtype=object).reshape(-1)[:1]
    return bool(len(first)) and hasattr(first[0], "tree_")


def convert_exact(
    model: Any, n_features: int, *, input_name: str, options: dict[str, Any], opsets: dict[str, int]
) -> onnx.ModelProto:
    """``model`` (a Pipeline or a bare estimator) -> one graph with a float64 input ``input_name``."""
    from skl2onnx import convert_sklearn  # heavy import, only when converting
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    steps = list(model.steps) if hasattr(model, "steps") else [("model", model)]
    estimator = steps[-1][1]
    tree = is_tree_model(estimator)
    est_type = FloatTensorType if tree else DoubleTensorType
    if len(steps) == 1:
        prep = _identity(input_name, n_features)
        width = n_features
    else:
        from sklearn.pipeline import Pipeline

        front = Pipeline(steps[:-1]) if len(steps) > 2 else steps[0][1]
        prep = convert_sklearn(
            front,
            name="prepare",  # skl2onnx names a graph by a random uuid: a new model.onnx every export
            initial_types=[(input_name, DoubleTensorType([None, n_features]))],
            target_opset=opsets,
        )
        _double_imputers(prep)
        width = _width(prep.graph.output[0])
    if tree:
        _cast_output(prep, TensorProto.FLOAT, width)  # where scikit-learn's trees cast
    est = convert_sklearn(
        estimator,
        name="estimator",
        initial_types=[(PREPARED, est_type([None, width]))],
        options={id(estimator): options},
        target_opset=opsets,
    )
    est = compose.add_prefix(est, "estimator/", rename_outputs=False)
    _same_opsets(prep, est)
    prep.ir_version = est.ir_version
    merged = compose.merge_models(
        prep,
        est,
        io_map=[(prep.graph.output[0].name, f"estimator/{PREPARED}")],
        name="prepare_estimator",
        doc_string="",
    )
    _float_outputs(merged)
    return merged


def _identity(name: str, width: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", [name], ["identity"])],
        "prepare",
        [helper.make_tensor_value_info(name, TensorProto.DOUBLE, [None, width])],
        [helper.make_tensor_value_info("identity", TensorProto.DOUBLE, [None, width])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _width(value: onnx.ValueInfoProto) -> int:
    dims = value.type.tensor_type.shape.dim
    if len(dims) != 2 or not dims[1].HasField("dim_value"):
        raise ValueError(f"preprocessing output '{value.name}' has no fixed width")
    return int(dims[1].dim_value)


def _double_imputers(model: onnx.ModelProto) -> None:
    """ONNX Runtime's ai.onnx.ml Imputer has no float64 kernel: the same fill as IsNaN + Where."""
    nodes = []
    for node in model.graph.node:
        if node.op_type != "Imputer" or node.domain != "ai.onnx.ml":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if not np.isnan(attrs.get("replaced_value_float", np.nan)):
            raise ValueError(f"imputer '{node.name}' replaces {attrs['replaced_value_float']}, not NaN")
        fill = f"{node.name}_fill"
        model.graph.initializer.append(
            numpy_helper.from_array(np.asarray(attrs["imputed_value_floats"], dtype=np.float64), fill)
        )
        missing = f"{node.name}_missing"
        nodes.append(helper.make_node("IsNaN", [node.input[0]], [missing], name=f"{node.name}_isnan"))
        where = helper.make_node("Where", [missing, fill, node.input[0]], list(node.output), name=node.name)
        nodes.append(where)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _cast_output(model: onnx.ModelProto, to: int, width: int) -> None:
    old = model.graph.output[0]
    name = f"{old.name}_cast"
    model.graph.node.append(helper.make_node("Cast", [old.name], [name], to=to))
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info(name, to, [None, width]))


def _same_opsets(*models: onnx.ModelProto) -> None:
    """merge_models wants equal opset imports; each op is valid at the higher version of its domain."""
    versions: dict[str, int] = {}
    for model in models:
        for op in model.opset_import:
            versions[op.domain] = max(versions.get(op.domain, 0), op.version)
    for model in models:
        del model.opset_import[:]
        model.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(versions.items()))


def _float_outputs(model: onnx.ModelProto) -> None:
    """float64 outputs (linear models, SVMs) leave as float32, like the trees' (error < 1e-7)."""
    for i, out in enumerate(model.graph.output):
        if out.type.tensor_type.elem_type != TensorProto.DOUBLE:
            continue
        inner = f"{out.name}_double"
        for node in model.graph.node:
            node.output[:] = [inner if o == out.name else o for o in node.output]
            node.input[:] = [inner if o == out.name else o for o in node.input]
        model.graph.node.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT))
        dims = [d.dim_value if d.HasField("dim_value") else None for d in out.type.tensor_type.shape.dim]
        model.graph.output[i].CopyFrom(helper.make_tensor_value_info(out.name, TensorProto.FLOAT, dims))
