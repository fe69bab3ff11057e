"""What writing a version returns (``ModelRepository.write_version``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelserve.contracts.provenance import Provenance


@dataclass(frozen=True, kw_only=True)
class WrittenVersion:
    model_dir: Path
    version: int
    model_path: Path
    sha256: str
    model_id: str
    provenance: Provenance = field(default_factory=Provenance)  # where the weights came from
    reused: bool = False  # the version already held this export: nothing was written
