"""Writing one version of a model into the repository (``ModelRepository.write_version``).

A write validates first (the config against the graph, the labels against the outputs) and stages
the version directory beside its final place (a hidden, non-numeric name Triton ignores), then
renames it in: a failed export leaves nothing half-written.

A written version is never rewritten: Triton may be serving its files and the index holds its
content id. Naming an existing version is refused (``VersionExistsError``); ``reuse`` returns the
newest version when it already holds the same export (graph, contract, labels, config, files), so
an export run twice (``modelserve demo``) writes nothing the second time.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.contracts.model import (
    METADATA_NAME,
    ContractBase,
    ContractError,
    TensorContract,
    contract_json,
)
from modelserve.contracts.random_weights import random_warning
from modelserve.repository.atomic import write_atomic
from modelserve.repository.config import build_config
from modelserve.repository.errors import ConfigValidationError, RepositoryWriteError, VersionExistsError
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
    extra_files: Mapping[str, Path] | None = None,
    reuse: bool = False,
) -> WrittenVersion:
    """Validate ``entry`` against ``model`` and write one version; returns where it went.

    ``contract``: what the exporter promises about the version (a plain tensor model if None); its
    name, version, content id and hash are filled in here. ``extra_files`` (relative path in
    the version directory -> source file) travel with the version, e.g. a tokenizer: Triton ignores
    them, the API reads them. ``version``: None for the next; an existing one is refused.
    ``reuse``: when ``version`` (None: the newest) already holds exactly this export, it is
    returned as it is, with ``reused=True``, instead of being refused or written again.
    """
    config = build_config(entry)
    validate_config(config, read_signature(model))
    _check_labels(config, labels)
    model_dir = repo.model_dir(entry.name)
    existing = repo.versions(entry.name)
    _keep_served_policy(repo, entry.name, config)
    payload = model.SerializeToString()
    digest = hashlib.sha256(payload).hexdigest()
    base = (contract or TensorContract(framework="onnx")).model_copy(
        update={
            "name": entry.name,
            "id": content_id(entry.name, digest),
            "sha256": digest,
            # No wall-clock time in the version's files: two exports of one source are the same
            # bytes. index.json records when it was written.
            "created": source_date() or "",
        }
    )
    if reuse:
        # The newest: an older one matching would not be the version Triton serves by default.
        candidates = existing[-1:] if version is None else [v for v in existing if v == version]
        for held in candidates:
            if _holds(repo, entry, held, payload, base, labels, config, extra_files or {}):
                logger.info("%s version %d already holds this export; nothing written", entry.name, held)
                return _written(repo, entry, held, base.model_copy(update={"version": held}), reused=True)
    next_version = (existing or [0])[-1] + 1
    if version is None:
        version = next_version
    if version < 1:
        raise RepositoryWriteError(f"version {version} must be >= 1")
    repo.check_version_free(entry.name, version)
    final = model_dir / str(version)
    written = base.model_copy(update={"version": version})
    staging = model_dir / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir(parents=True)
        (staging / entry.default_model_filename).write_bytes(payload)
        _copy_extra_files(staging, extra_files or {})
        (staging / METADATA_NAME).write_text(contract_json(written))
        if labels:
            write_atomic(model_dir / _label_file(config), ("\n".join(labels) + "\n").encode())
        try:
            staging.rename(final)
        except OSError as exc:  # rename(2) refuses a non-empty target: a concurrent export's
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise VersionExistsError(entry.name, version, version + 1, None) from exc
            raise
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
    return _written(repo, entry, version, written, reused=False)


def _written(
    repo: ModelRepository, entry: ModelEntry, version: int, contract: ContractBase, *, reused: bool
) -> WrittenVersion:
    return WrittenVersion(
        model_dir=repo.model_dir(entry.name),
        version=version,
        model_path=repo.version_dir(entry.name, version) / entry.default_model_filename,
        sha256=contract.sha256,
        model_id=contract.id,
        provenance=contract.provenance,
        reused=reused,
    )


def _holds(
    repo: ModelRepository,
    entry: ModelEntry,
    version: int,
    payload: bytes,
    contract: ContractBase,
    labels: Sequence[str] | None,
    config: mc.ModelConfig,
    extra_files: Mapping[str, Path],
) -> bool:
    """Whether ``version`` already holds this export, byte for byte: the graph, the contract (as
    it would be written there, its date as it was), the extra files, the labels and the config."""
    where = repo.version_dir(entry.name, version)
    contract_path = where / METADATA_NAME
    model_path = where / entry.default_model_filename
    if not (contract_path.is_file() and model_path.is_file()):
        return False
    try:
        held = repo.contract(entry.name, version)
        same_config = repo.config(entry.name) == config
    except (ContractError, ConfigValidationError):
        return False
    expected = contract.model_copy(update={"version": version, "created": held.created})
    return (
        same_config
        and held.sha256 == contract.sha256
        and contract_path.read_text() == contract_json(expected)
        and model_path.read_bytes() == payload
        and (labels is None or repo.labels(entry.name, version) == list(labels))
        and all(
            (where / relative).is_file() and (where / relative).read_bytes() == source.read_bytes()
            for relative, source in extra_files.items()
        )
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
