"""Writing one version of a model into the repository (``ModelRepository.write_version``).

A write validates first (the config against the graph, the labels against the outputs) and stages
the version directory beside its final place (a hidden, non-numeric name Triton ignores), then
renames it in: a failed export leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.contracts.model import METADATA_NAME, ContractBase, TensorContract, contract_json
from modelserve.contracts.random_weights import random_warning
from modelserve.repository.atomic import write_atomic
from modelserve.repository.config import build_config
from modelserve.repository.errors import ConfigValidationError, RepositoryWriteError
from modelserve.repository.graph import read_signature
from modelserve.repository.index import content_id, now_utc, source_date
from modelserve.repository.spec import ModelEntry
from modelserve.repository.validate import validate_config
from modelserve.repository.version import WrittenVersion

if TYPE_CHECKING:
    from modelserve.repository.repository import ModelRepository

logger = logging.getLogger(__name__)


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


def write_version(
    repo: ModelRepository,
    entry: ModelEntry,
    model: onnx.ModelProto,
    *,
    version: int | None = None,
    labels: Sequence[str] | None = None,
    contract: ContractBase | None = None,
    overwrite: bool = False,
    extra_files: Mapping[str, Path] | None = None,
) -> WrittenVersion:
    """Validate ``entry`` against ``model`` and write one version; returns where it went.

    ``contract``: what the exporter promises about the version (a plain tensor model if None); its
    name, version, content id and hash are filled in here. ``extra_files`` (relative path in
    the version directory -> source file) travel with the version, e.g. a tokenizer: Triton ignores
    them, the API reads them.
    """
    config = build_config(entry)
    validate_config(config, read_signature(model))
    _check_labels(config, labels)
    model_dir = repo.model_dir(entry.name)
    if version is None:
        version = (repo.versions(entry.name) or [0])[-1] + 1
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
        _copy_extra_files(staging, extra_files or {})
        written = (contract or TensorContract(framework="onnx")).model_copy(
            update={
                "name": entry.name,
                "version": version,
                "id": content_id(entry.name, digest),
                "sha256": digest,
                # No wall-clock time in the version's files: two exports of one source are the
                # same bytes. index.json records when it was written.
                "created": source_date() or "",
            }
        )
        (staging / METADATA_NAME).write_text(contract_json(written))
        if labels:
            write_atomic(model_dir / _label_file(config), ("\n".join(labels) + "\n").encode())
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        _keep_served_policy(repo, entry.name, config)
        repo.write_config(entry.name, config)
    except OSError as exc:
        raise RepositoryWriteError(f"writing {final}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    repo.index.record(entry.name, version, {**_index_record(written), "created": now_utc()})
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


def _copy_extra_files(staging: Path, extra_files: Mapping[str, Path]) -> None:
    for relative, source in extra_files.items():
        target = staging / relative
        if not target.resolve().is_relative_to(staging.resolve()):
            raise RepositoryWriteError(f"extra file {relative!r} would land outside the version directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _index_record(written: ContractBase) -> dict[str, Any]:
    record: dict[str, Any] = written.model_dump(
        mode="json", include={"id", "sha256", "created", "source", "framework", "kind", "provenance"}
    )
    metrics = written.model_dump(mode="json").get("metrics")
    if metrics is not None:  # trained families record their held-out metrics
        record["metrics"] = metrics
    return record


def _keep_served_policy(repo: ModelRepository, name: str, config: mc.ModelConfig) -> None:
    """A new version is written beside the served one, not served by the export: the lifecycle
    commands name the served versions in config.pbtxt (so a restarted Triton loads them), and an
    export that reset the policy to 'latest' made a restarted replica serve an unpromoted version."""
    if not repo.config_path(name).exists():
        return
    try:
        policy = repo.config(name).version_policy
    except ConfigValidationError:
        return  # an unreadable old config is replaced whole
    if policy.WhichOneof("policy_choice") == "specific":
        config.version_policy.CopyFrom(policy)


def _label_file(config: mc.ModelConfig) -> str:
    return str(next(o.label_filename for o in config.output if o.label_filename))
