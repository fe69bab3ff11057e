"""Train candidate classifiers as single sklearn Pipelines and keep the best.

Each candidate is ``Pipeline([("prepare", ColumnTransformer), ("model", estimator)])`` over the
encoded float matrix (see contracts.tabular): imputation + scaling of numbers, a
``user_age x user_activity`` interaction when both exist, one-hot of category codes. Random forest,
gradient boosting, logistic regression and SVC (probabilities) are fitted; the best weighted F1 on
the held-out split wins; optional grid search refines the forest or boosting winner.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler
from sklearn.svm import SVC

from modelserve.contracts.tabular import FeatureSpec
from modelserve.export.errors import SourceUnavailableError
from modelserve.export.tabular_clean import CleaningReport

logger = logging.getLogger(__name__)

INTERACTION = ("user_age", "user_activity")

CANDIDATES: dict[str, Callable[[int], Any]] = {
    "random_forest": lambda seed: RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=-1),
    "gradient_boosting": lambda seed: GradientBoostingClassifier(n_estimators=100, random_state=seed),
    "logistic_regression": lambda seed: LogisticRegression(max_iter=1000, random_state=seed),
    "svm": lambda seed: SVC(probability=True, random_state=seed),
}
GRIDS: dict[str, dict[str, list[Any]]] = {
    "random_forest": {
        "model__n_estimators": [50, 100, 200],
        "model__max_depth": [10, 20, None],
        "model__min_samples_leaf": [1, 2, 4],
    },
    "gradient_boosting": {
        "model__n_estimators": [50, 100],
        "model__learning_rate": [0.05, 0.1, 0.2],
        "model__max_depth": [3, 5],
    },
}


@dataclass(frozen=True, kw_only=True)
class Metrics:
    accuracy: float
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    best: str
    pipeline: Pipeline
    metrics: dict[str, Metrics]
    spec: FeatureSpec
    x_train: np.ndarray  # kept as the drift reference: the inputs the model learnt from
    x_test: np.ndarray
    y_test: np.ndarray
    cleaning: CleaningReport | None = None  # how the table was cleaned first (export_tabular sets it)


def build_pipeline(spec: FeatureSpec, estimator: Any) -> Pipeline:
    columns = spec.columns
    categorical = [columns.index(f.name) for f in spec.fields if f.kind == "categorical"]
    numeric = [i for i in range(len(columns)) if i not in categorical]
    parts: list[tuple[str, Any, list[int]]] = []
    if numeric:
        parts.append(
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                numeric,
            )
        )
    if all(name in columns for name in INTERACTION):
        pair = [columns.index(name) for name in INTERACTION]
        interaction = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("product", PolynomialFeatures(degree=2, interaction_only=True, include_bias=False)),
                ("scale", StandardScaler()),
            ]
        )
        parts.append(("age_x_activity", interaction, pair))
    if categorical:
        vocab = [[float(i) for i in range(len(f.categories))] for f in spec.fields if f.kind == "categorical"]
        parts.append(("categorical", OneHotEncoder(categories=vocab, handle_unknown="ignore"), categorical))
    return Pipeline([("prepare", ColumnTransformer(parts)), ("model", estimator)])


def _metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    return Metrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(precision_score(y_true, y_pred, average="weighted", zero_division=0)),
        recall=float(recall_score(y_true, y_pred, average="weighted", zero_division=0)),
        f1=float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
    )


def train(
    frame: Any,
    spec: FeatureSpec,
    *,
    models: Sequence[str] = tuple(CANDIDATES),
    grid_search: bool = False,
    test_size: float = 0.2,
    seed: int = 42,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainResult:
    unknown = [m for m in models if m not in CANDIDATES]
    if unknown or not models:
        raise SourceUnavailableError(f"unknown models {unknown}; choose from {list(CANDIDATES)}")
    x = spec.encode(frame.to_dict("records"), strict=False)  # cells as pandas read them
    y = np.array([spec.classes.index(str(v)) for v in frame[spec.target]])
    counts = np.bincount(y, minlength=len(spec.classes))
    if len(spec.classes) < 2 or counts.min() < 2:
        raise SourceUnavailableError(
            f"target '{spec.target}' needs at least 2 classes with 2+ rows each; "
            f"counts {dict(zip(spec.classes, counts.tolist(), strict=True))}"
        )
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    fitted: dict[str, Pipeline] = {}
    metrics: dict[str, Metrics] = {}
    for name in models:
        progress(f"training {name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # sklearn 1.9 deprecates SVC(probability=True)
            pipeline = build_pipeline(spec, CANDIDATES[name](seed)).fit(x_tr, y_tr)
        fitted[name], metrics[name] = pipeline, _metrics(y_te, pipeline.predict(x_te))
        logger.info("%s: accuracy %.4f, weighted F1 %.4f", name, metrics[name].accuracy, metrics[name].f1)
    best = max(metrics, key=lambda n: metrics[n].f1)
    if grid_search and best in GRIDS:
        progress(f"grid search for {best}")
        search = GridSearchCV(fitted[best], GRIDS[best], cv=3, scoring="f1_weighted", n_jobs=-1)
        search.fit(x_tr, y_tr)
        fitted[best] = search.best_estimator_
        metrics[best] = _metrics(y_te, fitted[best].predict(x_te))
    return TrainResult(
        best=best, pipeline=fitted[best], metrics=metrics, spec=spec, x_train=x_tr, x_test=x_te, y_test=y_te
    )
