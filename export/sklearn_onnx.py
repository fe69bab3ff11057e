"""scikit-learn -> ONNX with skl2onnx, and the parity check against the source model.

Classifiers are converted with ``zipmap=False`` so probabilities travel as a float tensor
(``probabilities`` [N, C]) beside ``label`` [N]; the input is one float tensor ``features`` [N, F].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from export.errors import ParityError

INPUT_NAME = "features"
LABEL_OUTPUT = "label"
PROBA_OUTPUT = "probabilities"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def tree_count(model: Any) -> int | None:
    """Number of trees voting, for ensembles whose probabilities are vote fractions."""
    estimator = final_estimator(model)
    n = getattr(estimator, "n_estimators", None)
    return int(n) if n is not None and hasattr(estimator, "estimators_") else None


def sklearn_to_onnx(model: Any, n_features: int) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn  # heavy import, only when converting
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(final_estimator(model)): {"zipmap": False}}
    onnx_model = convert_sklearn(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        options=options,
        target_opset=TARGET_OPSET,
    )
    if not isinstance(onnx_model, onnx.ModelProto):
        raise TypeError(f"skl2onnx returned {type(onnx_model).__name__}, not an ONNX model")
    return onnx_model


@dataclass(frozen=True, kw_only=True)
class ParityReport:
    rows: int
    max_abs_proba_diff: float
    label_mismatches: int
    tolerated_label_mismatches: int  # mismatches on rows whose top two classes were within tolerance
    tolerance: float
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_parity(
    model: Any, onnx_model: onnx.ModelProto, features: np.ndarray, *, atol: float = 1e-4
) -> ParityReport:
    """Compare ONNX Runtime against ``predict_proba``/``predict`` on ``features``; raise on failure.

    Trees compare float32 thresholds where sklearn compares float64 ones, so a row sitting on a split
    may flip one tree's vote: for ensembles the tolerance is one tree's share of the vote.
    """
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    x32 = np.ascontiguousarray(features, dtype=np.float32)
    label, proba = session.run([LABEL_OUTPUT, PROBA_OUTPUT], {INPUT_NAME: x32})
    ref_proba = np.asarray(model.predict_proba(features))
    ref_label = np.asarray(model.predict(features))
    trees = tree_count(model)
    tolerance = max(atol, 1.0 / trees + 1e-6) if trees else atol
    rule = f"probabilities within {tolerance:.4g}" + (f" (one vote of {trees} trees)" if trees else "")
    diff = float(np.abs(proba - ref_proba).max()) if len(features) else 0.0
    mismatched = np.flatnonzero(label != ref_label)
    top2 = np.sort(ref_proba, axis=1)[:, -2:] if ref_proba.shape[1] > 1 else np.zeros((len(features), 2))
    close_call = (top2[:, 1] - top2[:, 0]) <= 2 * tolerance
    tolerated = int(close_call[mismatched].sum())
    report = ParityReport(
        rows=len(features),
        max_abs_proba_diff=diff,
        label_mismatches=len(mismatched),
        tolerated_label_mismatches=tolerated,
        tolerance=tolerance,
        rule=rule + "; labels equal except on rows whose top two classes are within 2x that",
    )
    if diff > tolerance or tolerated < len(mismatched):
        raise ParityError(
            f"ONNX disagrees with scikit-learn on {len(features)} rows: "
            f"max probability difference {diff:.3g} "
            f"(allowed {tolerance:.3g}), {len(mismatched) - tolerated} label mismatches on clear-cut rows"
        )
    return report
