"""The demo set: real scikit-learn models on data sets that ship inside scikit-learn (offline).

- ``iris_rf``: random forest on iris (a tree ensemble: KIND_CPU).
- ``breast_cancer_lr``: StandardScaler + logistic regression on breast_cancer (KIND_AUTO: GPU on
  GPU nodes, CPU elsewhere).

Both go through the same conversion, parity and repository-writing code as every tabular export.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelserve.contracts.tabular import FeatureSpec, FieldSpec
from modelserve.export.provenance import trained
from modelserve.families.tabular.exporter import export_classifier
from modelserve.repository import ModelRepository, WrittenVersion


@dataclass(frozen=True, kw_only=True)
class DemoModel:
    name: str
    written: WrittenVersion
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    sample: np.ndarray  # held-out rows, for the demo request


# name -> (data set loader, model factory)
DEMO_SET: dict[str, tuple[Callable[..., Any], Callable[[], Any]]] = {
    "iris_rf": (load_iris, lambda: RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0)),
    "breast_cancer_lr": (
        load_breast_cancer,
        lambda: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000))]),
    ),
}


def export_demo_set(repository: ModelRepository | Path) -> list[DemoModel]:
    """Train, convert, check and write the demo models; returns what was written. A model whose
    newest version already holds the same export is reused as it is (``written.reused``), so
    running the demo again rewrites nothing; one that differs (another scikit-learn) gets the next
    version."""
    repository = ModelRepository.of(repository)
    repository.root.mkdir(parents=True, exist_ok=True)
    models = []
    for name, (load, make_model) in DEMO_SET.items():
        data = load()
        x_tr, x_te, y_tr, _ = train_test_split(
            data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
        )
        features = tuple(str(n) for n in data.feature_names)
        classes = tuple(str(n) for n in data.target_names)
        spec = FeatureSpec(
            fields=tuple(FieldSpec(name=f, kind="numeric") for f in features),
            target="target",
            classes=classes,
        )
        written = export_classifier(
            repository,
            name,
            make_model().fit(x_tr, y_tr),
            x_te,
            spec=spec,
            source=f"sklearn.datasets.{load.__name__}",
            provenance=trained([_bundled_file(data)], source=f"sklearn.datasets.{load.__name__}"),
            reference=x_tr,
            reuse=True,
        )
        models.append(
            DemoModel(
                name=name, written=written, feature_names=features, class_names=classes, sample=x_te[:5]
            )
        )
    return models


def _bundled_file(data: Any) -> Path:
    """The CSV scikit-learn loaded the data set from (it ships inside the package), for its digest."""
    return Path(str(importlib.resources.files(data.data_module) / data.filename))
