"""What the API knows about a served model: the contract its exporter wrote (modelserve.json) for
the version Triton serves. Read from the repository (mounted read-only beside Triton), cached."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from api.errors import NotFoundError
from api.text_prep import load_tokenizer
from client import AsyncTritonClient
from contracts.lifecycle import read_state
from contracts.tabular import FeatureSpec


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    name: str
    version: str
    metadata: dict[str, Any]


class Catalog:
    """``versions_ttl_s``: how long the served version of a model is trusted before Triton is asked
    again. Asking on every request cost a gRPC round trip (~1 ms here, as much as the inference of
    a small model); a version switch shows within the TTL, or at once after an inference names a
    version Triton no longer serves (``forget``)."""

    def __init__(self, repository: Path, *, versions_ttl_s: float = 1.0) -> None:
        self.repository = repository
        self.versions_ttl_s = versions_ttl_s
        self._versions: dict[str, tuple[float, str]] = {}  # name -> (checked at, version)
        self._cache: dict[tuple[str, str], ServedModel] = {}
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self._labels: dict[tuple[str, str], list[str]] = {}
        self._specs: dict[tuple[str, str], FeatureSpec] = {}
        self._max_batch: dict[tuple[str, str], int] = {}

    async def served(self, triton: AsyncTritonClient, name: str) -> ServedModel:
        """The newest version Triton serves for ``name``, with its contract."""
        checked = self._versions.get(name)
        if checked is not None and time.monotonic() - checked[0] < self.versions_ttl_s:
            version = checked[1]
        else:
            meta = await triton.metadata(name)  # raises ModelNotFoundError / ModelNotReadyError
            versions = sorted((v for v in meta.versions if v.isdigit()), key=int)
            if not versions:
                raise NotFoundError(f"model '{name}' has no numbered version ready")
            # The served version is the one the lifecycle commands named, while Triton has it
            # loaded; otherwise the newest loaded.
            try:
                chosen = read_state(self.repository, name).served
            except ValueError:
                chosen = None
            version = str(chosen) if chosen is not None and str(chosen) in versions else versions[-1]
            self._versions[name] = (time.monotonic(), version)
        key = (name, version)
        if key not in self._cache:
            path = self.repository / name / version / "modelserve.json"
            if not path.is_file():
                raise NotFoundError(f"model '{name}' v{version} has no export metadata at {path}")
            self._cache[key] = ServedModel(name=name, version=version, metadata=json.loads(path.read_text()))
        return self._cache[key]

    async def max_batch(self, triton: AsyncTritonClient, served: ServedModel) -> int:
        """The served version's max_batch_size in Triton (0: the model does not batch)."""
        key = (served.name, served.version)
        if key not in self._max_batch:
            self._max_batch[key] = int((await triton.config(served.name, served.version)).max_batch_size)
        return self._max_batch[key]

    def forget(self, name: str) -> None:
        """Ask Triton again next time (an inference found the cached version gone)."""
        self._versions.pop(name, None)

    def tokenizer(self, served: ServedModel) -> Tokenizer:
        key = (served.name, served.version)
        if key not in self._tokenizers:
            directory = (
                self.repository / served.name / served.version / served.metadata.get("tokenizer", "tokenizer")
            )
            if not (directory / "tokenizer.json").is_file():
                raise NotFoundError(
                    f"model '{served.name}' v{served.version} has no tokenizer at {directory}"
                )
            self._tokenizers[key] = load_tokenizer(directory, int(served.metadata.get("max_length", 512)))
        return self._tokenizers[key]

    def labels(self, served: ServedModel) -> list[str]:
        """Class names (labels.txt beside config.pbtxt, or in the version directory), read once."""
        key = (served.name, served.version)
        if key not in self._labels:
            paths = (
                self.repository / served.name / "labels.txt",
                self.repository / served.name / served.version / "labels.txt",
            )
            found = next((p for p in paths if p.is_file()), None)
            self._labels[key] = found.read_text().splitlines() if found else []
        return self._labels[key]

    def feature_spec(self, served: ServedModel) -> FeatureSpec:
        """The tabular feature contract, parsed once per served version."""
        key = (served.name, served.version)
        if key not in self._specs:
            if "features" not in served.metadata:
                raise NotFoundError(f"model '{served.name}' is not a tabular model (no feature spec)")
            self._specs[key] = FeatureSpec.from_dict(served.metadata["features"])
        return self._specs[key]
