"""Write and read entries of a Triton model repository.

    <repository>/<name>/config.pbtxt
    <repository>/<name>/labels.txt                  (when an output names a label_filename)
    <repository>/<name>/<version>/model.onnx
    <repository>/<name>/<version>/modelserve.json   (the model contract: contracts/model.py)

A write validates first and stages the version directory beside its final place (a hidden,
non-numeric name Triton ignores), then renames it in: a failed export leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.contracts.model import METADATA_NAME, ModelContract, TensorContract, contract_json
from modelserve.contracts.provenance import Provenance
from modelserve.contracts.random_weights import random_warning
from modelserve.export.atomic import write_atomic
from modelserve.export.config import build_config, read_config, write_config
from modelserve.export.errors import ConfigValidationError, RepositoryWriteError
from modelserve.export.onnx_graph import read_signature
from modelserve.export.spec import ModelEntry
from modelserve.export.validate import validate_config
from modelserve.export.versioning import content_id, now_utc, record_version

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.pbtxt"


@dataclass(frozen=True, kw_only=True)
class WrittenVersion:
    model_dir: Path
    version: int
    model_path: Path
    sha256: str
    model_id: str
    provenance: Provenance = field(default_factory=Provenance)  # where the weights came from


def versions_of(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def _check_labels(config: mc.ModelConfig, labels: Sequence[str] | None) -> None:
    for output in config.output:
        if not output.label_filename:
            continue
        if not labels:
            raise ConfigValidationError(
                f"output '{output.name}' names {output.label_filename} but no labels given"
            )
        classes = output.dims[-1] if output.dims else -1
        if classes > 0 and classes != len(labels):
            raise ConfigValidationError(
                f"output '{output.name}' has {classes} classes but {len(labels)} labels were given"
            )
        if any("\n" in label for label in labels):
            raise ConfigValidationError("labels must not contain newlines")


def write_model(
    repository: Path,
    entry: ModelEntry,
    model: onnx.ModelProto,
    *,
    version: int | None = None,
    labels: Sequence[str] | None = None,
    contract: ModelContract | None = None,
    overwrite: bool = False,
    extra_files: Mapping[str, Path] | None = None,
) -> WrittenVersion:
    """Validate ``entry`` against ``model`` and write one version; returns where it went.

    ``contract``: what the exporter promises about the version (a plain tensor model if None); its
    name, version, content id, hash and date are filled in here. ``extra_files`` (relative path in
    the version directory -> source file) travel with the version, e.g. a tokenizer: Triton ignores
    them, the API reads them.
    """
    config = build_config(entry)
    validate_config(config, read_signature(model))
    _check_labels(config, labels)
    model_dir = repository / entry.name
    if version is None:
        version = (versions_of(model_dir) or [0])[-1] + 1
    if version < 1:
        raise RepositoryWriteError(f"version {version} must be >= 1")
    final = model_dir / str(version)
    if final.exists() and not overwrite:
        raise RepositoryWriteError(
            f"{final} already exists; choose another version, or leave --version out for the next one"
        )
    payload = model.SerializeToString()
    digest = hashlib.sha256(payload).hexdigest()
    staging = model_dir / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir(parents=True)
        (staging / entry.default_model_filename).write_bytes(payload)
        for relative, source in (extra_files or {}).items():
            target = staging / relative
            if not target.resolve().is_relative_to(staging.resolve()):
                raise RepositoryWriteError(
                    f"extra file {relative!r} would land outside the version directory"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        written = (contract or TensorContract(framework="onnx")).model_copy(
            update={
                "name": entry.name,
                "version": version,
                "id": content_id(entry.name, digest),
                "sha256": digest,
                "created": now_utc(),
            }
        )
        (staging / METADATA_NAME).write_text(contract_json(written))
        if labels:
            write_atomic(model_dir / _label_file(config), ("\n".join(labels) + "\n").encode())
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        _keep_served_policy(model_dir / CONFIG_NAME, config)
        write_config(model_dir / CONFIG_NAME, config)
    except OSError as exc:
        raise RepositoryWriteError(f"writing {final}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    record: dict[str, Any] = written.model_dump(
        mode="json", include={"id", "sha256", "created", "source", "framework", "kind", "provenance"}
    )
    if written.kind == "tabular":
        record["metrics"] = written.model_dump(mode="json")["metrics"]
    record_version(repository, entry.name, version, record)
    logger.info("wrote %s version %d (%s)", entry.name, version, written.id)
    if written.provenance.random:
        logger.warning("%s", random_warning(entry.name, [version]))
    return WrittenVersion(
        model_dir=model_dir,
        version=version,
        model_path=final / entry.default_model_filename,
        sha256=digest,
        model_id=written.id,
        provenance=written.provenance,
    )


def _keep_served_policy(path: Path, config: mc.ModelConfig) -> None:
    """A new version is written beside the served one, not served by the export: the lifecycle
    commands name the served versions in config.pbtxt (so a restarted Triton loads them), and an
    export that reset the policy to 'latest' made a restarted replica serve an unpromoted version."""
    if not path.exists():
        return
    try:
        policy = read_config(path).version_policy
    except ConfigValidationError:
        return  # an unreadable old config is replaced whole
    if policy.WhichOneof("policy_choice") == "specific":
        config.version_policy.CopyFrom(policy)


def _label_file(config: mc.ModelConfig) -> str:
    return str(next(o.label_filename for o in config.output if o.label_filename))


@dataclass(frozen=True, kw_only=True)
class RepositoryModel:
    """What the files say about one model, without a server."""

    name: str
    versions: tuple[int, ...]
    config: mc.ModelConfig | None
    problem: str | None  # why the entry is unusable, if it is


def list_models(repository: Path) -> list[RepositoryModel]:
    if not repository.is_dir():
        why = "is a file, not a directory" if repository.exists() else "does not exist"
        raise RepositoryWriteError(f"model repository {repository} {why}")
    models = []
    for model_dir in sorted(p for p in repository.iterdir() if p.is_dir() and not p.name.startswith(".")):
        config: mc.ModelConfig | None = None
        problem: str | None = None
        try:
            config = read_config(model_dir / CONFIG_NAME)
        except ConfigValidationError as exc:
            problem = str(exc)
        models.append(
            RepositoryModel(
                name=model_dir.name, versions=tuple(versions_of(model_dir)), config=config, problem=problem
            )
        )
    return models
