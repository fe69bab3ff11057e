"""Tabular (scikit-learn) classifiers into the repository: config, conversion, parity, metadata.

Every exported classifier has one float64 input ``features`` [N, F] (float64 so the graph computes
exactly what scikit-learn does) and two outputs, ``label`` [N, 1] and ``probabilities`` [N, C]
(float32) with the class names in labels.txt. Tree ensembles get KIND_CPU
instances: ONNX Runtime has no CUDA kernel for TreeEnsemble, so a GPU instance would only add copies.
"""

from __future__ import annotations

import logging
import platform
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import sklearn

from modelserve.contracts.provenance import Provenance
from modelserve.contracts.reference import REFERENCE_NAME, write_reference
from modelserve.contracts.tabular import FeatureSpec
from modelserve.export.errors import ParityError
from modelserve.export.provenance import trained
from modelserve.export.sklearn_onnx import (
    INPUT_NAME,
    LABEL_OUTPUT,
    PROBA_OUTPUT,
    check_parity,
    is_tree_pipeline,
    sklearn_to_onnx,
)
from modelserve.export.tabular_clean import CleaningOptions, CleaningReport, clean
from modelserve.export.tabular_data import infer_spec, load_table
from modelserve.export.tabular_train import CANDIDATES, TrainResult, train
from modelserve.families.tabular.contract import TabularContract
from modelserve.families.tabular.options import PARITY_ATOL
from modelserve.repository import ModelRepository, WrittenVersion
from modelserve.repository.spec import DynamicBatching, InstanceGroup, ModelEntry, TensorConfig

logger = logging.getLogger(__name__)

MAX_BATCH = 128
INPUT_DTYPE, INPUT_TRITON_TYPE = "float64", "FP64"
ENCODING_NOTE = (
    "encode records with the feature spec (categories -> index, datetimes -> hour/day_of_week/month, "
    "null -> NaN); imputation, scaling, interactions and one-hot encoding are in the graph"
)


def classifier_entry(name: str, n_features: int, n_classes: int, *, cpu_only: bool) -> ModelEntry:
    """The config every exported tabular classifier gets."""
    return ModelEntry(
        name=name,
        max_batch_size=MAX_BATCH,
        inputs=(TensorConfig(name=INPUT_NAME, data_type=INPUT_TRITON_TYPE, dims=(n_features,)),),
        outputs=(
            # The graph's label is [N]; clients see [N, 1] (Triton cannot show a batched scalar).
            TensorConfig(name=LABEL_OUTPUT, data_type="INT64", dims=(1,), reshape=()),
            TensorConfig(name=PROBA_OUTPUT, data_type="FP32", dims=(n_classes,), label_filename="labels.txt"),
        ),
        dynamic_batching=DynamicBatching(max_queue_delay_us=100),
        # One instance either way: with no instance_group Triton starts two on CPU, and two ORT
        # sessions with a thread per core each fight over a small box (measured: a logistic
        # regression's compute doubled). KIND_AUTO keeps "one per GPU" on GPU nodes.
        instance_groups=(InstanceGroup(kind="KIND_CPU" if cpu_only else "KIND_AUTO", count=1),),
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
    repository: ModelRepository | Path,
    name: str,
    model: Any,
    x_test: np.ndarray,
    *,
    spec: FeatureSpec,
    source: str,
    version: int | None = None,
    reuse: bool = False,
    reference: np.ndarray | None = None,
    winner: str | None = None,
    metrics: Mapping[str, Mapping[str, float]] | None = None,
    preprocessing: str = ENCODING_NOTE,
    provenance: Provenance | None = None,
    parity_atol: float = PARITY_ATOL,
    cleaning: CleaningReport | None = None,
) -> WrittenVersion:
    """Convert ``model`` (fitted on ``spec.columns``), check it on ``x_test`` and write it with its
    contract; trees are pinned to CPU. ``reference``: the training inputs, sampled into the version
    for drift detection. ``winner``/``metrics``: the training's choice and held-out metrics.
    ``parity_atol``: the largest probability difference allowed (a setting, not a fudge: the graph
    computes what scikit-learn does, so the default is 1e-6).
    ``provenance``: by default trained here on ``source`` (hashed when it is a file).
    ``version``: None for the next; an existing one is refused (versions are never rewritten).
    ``reuse``: return an existing version that already holds exactly this export instead.
    ``cleaning``: how the training table was cleaned, recorded in the contract."""
    feature_names, class_names = spec.columns, spec.classes
    cpu_only = is_tree_pipeline(model)
    onnx_model = sklearn_to_onnx(model, x_test.shape[1])
    # Checked on the training rows too: they sit on the split points the trees learnt.
    checked = x_test if reference is None else np.concatenate([reference, x_test])
    try:
        parity = check_parity(model, onnx_model, checked, atol=parity_atol)
    except ParityError as exc:
        if reference is None:
            raise
        raise ParityError(f"{exc} (rows 0-{len(reference) - 1}: training, then held-out)") from exc
    entry = classifier_entry(name, x_test.shape[1], len(class_names), cpu_only=cpu_only)
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        if reference is not None:
            files[REFERENCE_NAME] = write_reference(Path(scratch) / REFERENCE_NAME, reference, feature_names)
        return ModelRepository.of(repository).write_version(
            entry,
            onnx_model,
            version=version,
            labels=class_names,
            reuse=reuse,
            extra_files=files,
            contract=TabularContract(
                source=source,
                provenance=provenance or trained([Path(source)], source=source),
                framework="scikit-learn",
                versions=_versions(),
                opset={op.domain or "ai.onnx": op.version for op in onnx_model.opset_import},
                features=spec,
                inputs={
                    INPUT_NAME: {
                        "dtype": INPUT_DTYPE,
                        "shape": [-1, x_test.shape[1]],
                        "columns": feature_names,
                    }
                },
                preprocessing=preprocessing,
                parity=parity.as_dict(),
                model=winner,
                metrics={k: dict(v) for k, v in (metrics or {}).items()},
                cleaning=cleaning.as_dict() if cleaning else {},
            ),
        )


def export_tabular(
    repository: ModelRepository | Path,
    name: str,
    data: Path,
    target: str,
    *,
    models: Sequence[str] = tuple(CANDIDATES),
    drop: Sequence[str] = (),
    grid_search: bool = False,
    test_size: float = 0.2,
    version: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
    parity_atol: float = PARITY_ATOL,
    cleaning: CleaningOptions | None = None,
) -> tuple[TrainResult, WrittenVersion]:
    """The training pipeline end to end: load, clean (as ``cleaning`` says; the result's
    ``cleaning`` reports it), train, pick, convert, check, write."""
    progress(f"loading {data}")
    frame, report = clean(load_table(data), target, drop=drop, options=cleaning)
    spec = infer_spec(frame, target)
    result = train(
        frame, spec, models=models, grid_search=grid_search, test_size=test_size, progress=progress
    )
    result = replace(result, cleaning=report)
    progress(f"converting {result.best} to ONNX and checking parity")
    written = export_classifier(
        repository,
        name,
        result.pipeline,
        result.x_test,
        spec=spec,
        source=str(data),
        version=version,
        reference=result.x_train,
        winner=result.best,
        metrics={n: asdict(m) for n, m in result.metrics.items()},
        parity_atol=parity_atol,
        cleaning=report,
    )
    return result, written
