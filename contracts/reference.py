"""The reference sample of a tabular model: the inputs its training saw, stored beside the version.

``<repository>/<name>/<version>/reference.npz`` holds ``features`` [N, F] (float32, encoded exactly
as the API encodes requests, NaN for missing) and ``columns``. Written at export, read by drift
detection, which compares a live window of the same version's requests against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelserve.contracts.tabular import FeatureSpec

REFERENCE_NAME = "reference.npz"
MAX_REFERENCE_ROWS = 5000  # a KS test's power barely grows past this; the file stays small


@dataclass(frozen=True, kw_only=True)
class Reference:
    features: np.ndarray  # [N, F] float32
    spec: FeatureSpec


def write_reference(path: Path, features: np.ndarray, columns: tuple[str, ...], *, seed: int = 0) -> Path:
    """A random sample of at most MAX_REFERENCE_ROWS rows of ``features`` into ``path``."""
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != len(columns):
        raise ValueError(f"reference features {x.shape} do not match {len(columns)} columns")
    if len(x) > MAX_REFERENCE_ROWS:
        x = x[np.random.default_rng(seed).choice(len(x), MAX_REFERENCE_ROWS, replace=False)]
    np.savez_compressed(path, features=x, columns=np.array(columns))
    return path


def read_reference(version_dir: Path, spec: FeatureSpec) -> Reference | None:
    """The version's reference sample under its feature spec; None when it was exported without one."""
    path = version_dir / REFERENCE_NAME
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        features = np.asarray(data["features"], dtype=np.float32)
        columns = tuple(str(c) for c in data["columns"])
    if columns != spec.columns:
        raise ValueError(f"{path}: columns {columns} differ from the feature spec's {spec.columns}")
    return Reference(features=features, spec=spec)
