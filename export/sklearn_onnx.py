"""scikit-learn -> ONNX with skl2onnx, and the parity check against the source model.

Classifiers are converted with ``zipmap=False`` so probabilities travel as a float32 tensor
(``probabilities`` [N, C]) beside ``label`` [N]; the input is one float64 tensor ``features`` [N, F]
(float64 so the graph matches scikit-learn exactly; see sklearn_exact).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from modelserve.export.errors import ParityError
from modelserve.export.sklearn_exact import convert_exact, is_tree_model

INPUT_NAME = "features"
LABEL_OUTPUT = "label"
PROBA_OUTPUT = "probabilities"
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def is_tree_pipeline(model: Any) -> bool:
    return is_tree_model(final_estimator(model))


def sklearn_to_onnx(model: Any, n_features: int) -> onnx.ModelProto:
    """The graph takes float64 ``features`` and computes what scikit-learn does (sklearn_exact)."""
    onnx_model = convert_exact(
        model, n_features, input_name=INPUT_NAME, options={"zipmap": False}, opsets=TARGET_OPSET
    )
    _name_outputs(onnx_model)
    return onnx_model


def _name_outputs(model: onnx.ModelProto) -> None:
    """skl2onnx names a classifier's outputs label/probabilities; say so if that ever changes."""
    names = [o.name for o in model.graph.output]
    if names != [LABEL_OUTPUT, PROBA_OUTPUT]:
        raise TypeError(f"skl2onnx gave outputs {names}, expected {[LABEL_OUTPUT, PROBA_OUTPUT]}")


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
    model: Any, onnx_model: onnx.ModelProto, features: np.ndarray, *, atol: float
) -> ParityReport:
    """Compare ONNX Runtime against ``predict_proba``/``predict`` on ``features``; raise on failure.

    The graph computes what scikit-learn computes (float64 in, trees fed float32 as scikit-learn
    feeds them), so probabilities agree to float32 rounding, for trees too.
    """
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(features, dtype=np.float64)
    label, proba = session.run([LABEL_OUTPUT, PROBA_OUTPUT], {INPUT_NAME: x})
    ref_proba = np.asarray(model.predict_proba(features))
    ref_label = np.asarray(model.predict(features))
    tolerance = atol
    rule = f"probabilities within {tolerance:.4g}"
    row_diff = np.abs(proba - ref_proba).max(axis=1) if len(features) else np.zeros(0)
    diff = float(row_diff.max()) if len(features) else 0.0
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
        clear = np.setdiff1d(mismatched, np.flatnonzero(close_call))
        worst = np.unique(np.concatenate([np.flatnonzero(row_diff > tolerance), clear]))
        worst = worst[np.argsort(-row_diff[worst])][:5]
        raise ParityError(
            f"ONNX disagrees with scikit-learn on {len(features)} rows: "
            f"max probability difference {diff:.3g} (allowed {tolerance:.3g}), "
            f"{len(mismatched) - tolerated} label mismatches on clear-cut rows; worst rows "
            + ", ".join(f"{int(r)} ({row_diff[r]:.3g})" for r in worst)
        )
    return report
