"""The demo set: real scikit-learn models on data sets that ship inside scikit-learn (offline).

- ``iris_rf``: random forest on iris (tree ensemble, so KIND_CPU: ONNX Runtime has no CUDA kernel
  for TreeEnsemble; a GPU instance would only add copies).
- ``breast_cancer_lr``: StandardScaler + logistic regression on breast_cancer (KIND_AUTO: GPU on
  GPU nodes, CPU elsewhere).

Both go through the same conversion, parity and repository-writing code the exporters use.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import sklearn
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from export.repository import WrittenVersion, write_model
from export.sklearn_onnx import INPUT_NAME, LABEL_OUTPUT, PROBA_OUTPUT, check_parity, sklearn_to_onnx
from export.spec import DynamicBatching, InstanceGroup, ModelEntry, TensorConfig

logger = logging.getLogger(__name__)

MAX_BATCH = 128


@dataclass(frozen=True, kw_only=True)
class DemoModel:
    name: str
    written: WrittenVersion
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    sample: np.ndarray  # held-out rows, for the demo request


def classifier_entry(name: str, n_features: int, n_classes: int, *, cpu_only: bool) -> ModelEntry:
    """The config every exported tabular classifier gets."""
    return ModelEntry(
        name=name,
        max_batch_size=MAX_BATCH,
        inputs=(TensorConfig(name=INPUT_NAME, data_type="FP32", dims=(n_features,)),),
        outputs=(
            # The graph's label is [N]; clients see [N, 1] (Triton cannot show a batched scalar).
            TensorConfig(name=LABEL_OUTPUT, data_type="INT64", dims=(1,), reshape=()),
            TensorConfig(name=PROBA_OUTPUT, data_type="FP32", dims=(n_classes,), label_filename="labels.txt"),
        ),
        dynamic_batching=DynamicBatching(max_queue_delay_us=100),
        instance_groups=(InstanceGroup(kind="KIND_CPU", count=1),) if cpu_only else (),
        warmup_batch_sizes=(1,),
    )


def _versions() -> dict[str, str]:
    import skl2onnx

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
    }


def export_classifier(
    repository: Path,
    name: str,
    model: Any,
    x_test: np.ndarray,
    *,
    feature_names: tuple[str, ...],
    class_names: tuple[str, ...],
    source: str,
    cpu_only: bool,
    version: int | None = 1,
) -> WrittenVersion:
    onnx_model = sklearn_to_onnx(model, x_test.shape[1])
    parity = check_parity(model, onnx_model, x_test)
    entry = classifier_entry(name, x_test.shape[1], len(class_names), cpu_only=cpu_only)
    return write_model(
        repository,
        entry,
        onnx_model,
        version=version,
        labels=class_names,
        overwrite=True,
        metadata={
            "source": source,
            "framework": "scikit-learn",
            "versions": _versions(),
            "opset": {op.domain or "ai.onnx": op.version for op in onnx_model.opset_import},
            "inputs": {
                INPUT_NAME: {"dtype": "float32", "shape": [-1, x_test.shape[1]], "columns": feature_names}
            },
            "preprocessing": "none outside the graph: the pipeline's scaling is inside the ONNX model",
            "parity": parity.as_dict(),
        },
    )


def export_demo_set(repository: Path) -> list[DemoModel]:
    """Train, convert, check and write the demo models; returns what was written."""
    repository.mkdir(parents=True, exist_ok=True)
    models = []
    iris = load_iris()
    x_tr, x_te, y_tr, _ = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=0, stratify=iris.target
    )
    rf = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0).fit(x_tr, y_tr)
    names = tuple(str(n) for n in iris.feature_names)
    classes = tuple(str(n) for n in iris.target_names)
    written = export_classifier(
        repository, "iris_rf", rf, x_te, feature_names=names, class_names=classes,
        source="sklearn.datasets.load_iris", cpu_only=True,
    )  # fmt: skip
    models.append(
        DemoModel(name="iris_rf", written=written, feature_names=names, class_names=classes, sample=x_te[:5])
    )

    cancer = load_breast_cancer()
    x_tr, x_te, y_tr, _ = train_test_split(
        cancer.data, cancer.target, test_size=0.3, random_state=0, stratify=cancer.target
    )
    lr = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000))]).fit(x_tr, y_tr)
    names = tuple(str(n) for n in cancer.feature_names)
    classes = tuple(str(n) for n in cancer.target_names)
    written = export_classifier(
        repository, "breast_cancer_lr", lr, x_te, feature_names=names, class_names=classes,
        source="sklearn.datasets.load_breast_cancer", cpu_only=False,
    )  # fmt: skip
    models.append(
        DemoModel(
            name="breast_cancer_lr",
            written=written,
            feature_names=names,
            class_names=classes,
            sample=x_te[:5],
        )
    )
    return models
