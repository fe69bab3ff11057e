"""What the API knows about a served model: the contract its exporter wrote (modelserve.json) for
the version Triton serves. Read from the repository (mounted read-only beside Triton), cached."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.errors import NotFoundError
from client import AsyncTritonClient


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    name: str
    version: str
    metadata: dict[str, Any]


class Catalog:
    def __init__(self, repository: Path) -> None:
        self.repository = repository
        self._cache: dict[tuple[str, str], ServedModel] = {}

    async def served(self, triton: AsyncTritonClient, name: str) -> ServedModel:
        """The newest version Triton serves for ``name``, with its contract."""
        meta = await triton.metadata(name)  # raises ModelNotFoundError / ModelNotReadyError
        versions = sorted((v for v in meta.versions if v.isdigit()), key=int)
        if not versions:
            raise NotFoundError(f"model '{name}' has no numbered version ready")
        version = versions[-1]
        key = (name, version)
        if key not in self._cache:
            path = self.repository / name / version / "modelserve.json"
            if not path.is_file():
                raise NotFoundError(f"model '{name}' v{version} has no export metadata at {path}")
            self._cache[key] = ServedModel(name=name, version=version, metadata=json.loads(path.read_text()))
        return self._cache[key]

    def labels(self, served: ServedModel) -> list[str]:
        """Class names (labels.txt beside config.pbtxt, or in the version directory)."""
        for path in (
            self.repository / served.name / "labels.txt",
            self.repository / served.name / served.version / "labels.txt",
        ):
            if path.is_file():
                return path.read_text().splitlines()
        return []
