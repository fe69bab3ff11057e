"""The exported graph computes what scikit-learn computes: tree models included, on the rows they
were trained on (which sit on their split points), with missing values imputed in the graph."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from modelserve.export.sklearn_onnx import INPUT_NAME, TARGET_OPSET, final_estimator, sklearn_to_onnx
from modelserve.export.tabular_clean import clean
from modelserve.export.tabular_data import example_table, infer_spec
from modelserve.export.tabular_train import train


def _run(onnx_model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {INPUT_NAME: np.ascontiguousarray(x)})
    return label, proba


@pytest.fixture(scope="module")
def table():
    frame, _ = clean(example_table(800), "segment", drop=["user_id"])
    frame.loc[frame.index[:40], "user_age"] = np.nan  # imputed inside the graph
    return frame, infer_spec(frame, "segment")


@pytest.mark.parametrize("name", ["random_forest", "gradient_boosting", "logistic_regression", "svm"])
def test_every_candidate_matches_scikit_learn_on_train_and_test_rows(table, name):
    frame, spec = table
    result = train(frame, spec, models=(name,))
    x = np.concatenate([result.x_train, result.x_test])
    assert np.isnan(x).any()
    onnx_model = sklearn_to_onnx(result.pipeline, x.shape[1])
    label, proba = _run(onnx_model, x)
    assert proba.dtype == np.float32
    expected = result.pipeline.predict_proba(x)
    assert np.abs(proba - expected).max() <= 1e-6
    top2 = np.sort(expected, axis=1)[:, -2:]
    tied = top2[:, 1] - top2[:, 0] <= 2e-6  # a tied vote: either class is the same answer
    differs = label != result.pipeline.predict(x)
    assert not (differs & ~tied).any()


def test_the_float32_graph_this_replaces_moves_rows_across_splits(table):
    """What the float64 input fixes: the same forest converted for float32 input disagrees."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    frame, spec = table
    result = train(frame, spec, models=("random_forest",))
    x = np.concatenate([result.x_train, result.x_test])
    model = result.pipeline
    naive = convert_sklearn(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, x.shape[1]]))],
        options={id(final_estimator(model)): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 1},  # the float Imputer kernel
    )
    _, proba = _run(naive, x.astype(np.float32))
    assert np.abs(proba - model.predict_proba(x)).max() > 1e-3
    assert TARGET_OPSET["ai.onnx.ml"] == 3


def test_a_bare_tree_without_a_pipeline_is_exact():
    iris = load_iris()
    x = iris.data + np.random.default_rng(0).normal(scale=1e-3, size=iris.data.shape)
    tree = DecisionTreeClassifier(random_state=0).fit(x, iris.target)
    label, proba = _run(sklearn_to_onnx(tree, x.shape[1]), x)
    assert np.abs(proba - tree.predict_proba(x)).max() <= 1e-6
    np.testing.assert_array_equal(label, tree.predict(x))
