"""``ModelRepository``: the one owner of a Triton model repository on disk.

    <root>/index.json                         every written version's record (``index``)
    <root>/<name>/config.pbtxt                Triton's config: built, validated, written here only
    <root>/<name>/labels.txt                  class names, when an output names a label_filename
    <root>/<name>/lifecycle.json              the served version and its history (``lifecycle``)
    <root>/<name>/<version>/model.onnx        the graph
    <root>/<name>/<version>/modelserve.json   the model contract (``modelserve.contracts.model``)

Every other package asks this object, never the files: exporters write versions through it, the
lifecycle commands read and write the served version and the version policy, the API's catalog reads
contracts and labels. Reads are cached per file and checked against the file's identity (inode,
size, modification time), so a flow that asks for the same file four times parses it once and
still sees a file another process replaced.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tritonclient.grpc import model_config_pb2 as mc

if TYPE_CHECKING:
    import onnx

from modelserve.contracts.model import (
    METADATA_NAME,
    ContractBase,
    ContractError,
    ContractMissingError,
    ContractSet,
)
from modelserve.contracts.provenance import Provenance
from modelserve.contracts.random_weights import random_warning
from modelserve.contracts.reference import Reference, read_reference
from modelserve.contracts.tabular import FeatureSpec
from modelserve.repository.atomic import write_atomic
from modelserve.repository.config import read_config, write_config
from modelserve.repository.errors import ConfigValidationError, RepositoryReadError, VersionExistsError
from modelserve.repository.index import Index
from modelserve.repository.lifecycle import STATE_FILE, LifecycleState, parse_state, state_json
from modelserve.repository.spec import ModelEntry, check_model_name
from modelserve.repository.version import WrittenVersion

CONFIG_NAME = "config.pbtxt"
LABELS_NAME = "labels.txt"
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class RepositoryModel:
    """What the files say about one model, without a server."""

    name: str
    versions: tuple[int, ...]
    config: mc.ModelConfig | None
    problem: str | None  # why the entry is unusable, if it is


class ModelRepository:
    """``contracts``: the kinds of model contract this repository's versions may hold (the model
    families' set); without it, contracts read as their common part (kind, provenance, ids)."""

    def __init__(self, root: Path | str, *, contracts: ContractSet | None = None) -> None:
        self.root = Path(root)
        self.contracts = contracts or ContractSet()
        self.index = Index(self.root)
        self._cache: dict[Path, tuple[tuple[int, int, int], Any]] = {}

    @classmethod
    def of(
        cls, where: ModelRepository | Path | str, *, contracts: ContractSet | None = None
    ) -> ModelRepository:
        """``where`` itself when it is a repository; else one on that path reading ``contracts``."""
        return where if isinstance(where, ModelRepository) else cls(where, contracts=contracts)

    def __repr__(self) -> str:
        return f"ModelRepository({str(self.root)!r})"

    # --- paths and listings -------------------------------------------------------------------

    def model_dir(self, name: str) -> Path:
        """``name``'s folder; a name that is no plain folder name (``..``, ``a/b``) is refused."""
        return self.root / check_model_name(name)

    def version_dir(self, name: str, version: int | str) -> Path:
        return self.model_dir(name) / str(int(version))

    def has_model(self, name: str) -> bool:
        try:
            return self.model_dir(name).is_dir()
        except ConfigValidationError:
            return False

    def has_version(self, name: str, version: int | str) -> bool:
        try:
            return self.version_dir(name, version).is_dir()
        except (ConfigValidationError, ValueError):
            return False

    def names(self) -> list[str]:
        """Model folders, sorted; hidden ones (staging, caches) left out."""
        if not self.root.is_dir():
            why = "is a file, not a directory" if self.root.exists() else "does not exist"
            raise RepositoryReadError(f"model repository {self.root} {why}")
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def versions(self, name: str) -> list[int]:
        model_dir = self.model_dir(name)
        if not model_dir.is_dir():
            return []
        return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())

    def models(self) -> list[RepositoryModel]:
        """Every model with its versions and config, or the reason its config is unusable."""
        found = []
        for name in self.names():
            config: mc.ModelConfig | None = None
            problem: str | None = None
            try:
                config = self.config(name)
            except ConfigValidationError as exc:
                problem = str(exc)
            found.append(
                RepositoryModel(
                    name=name, versions=tuple(self.versions(name)), config=config, problem=problem
                )
            )
        return found

    # --- config.pbtxt -------------------------------------------------------------------------

    def config_path(self, name: str) -> Path:
        return self.model_dir(name) / CONFIG_NAME

    def config(self, name: str) -> mc.ModelConfig:
        """A copy of the parsed config.pbtxt (callers change theirs); ConfigValidationError naming
        the file when it is missing or does not parse."""
        parsed = self._read(self.config_path(name), read_config)
        fresh = mc.ModelConfig()
        fresh.CopyFrom(parsed)
        return fresh

    def write_config(self, name: str, config: mc.ModelConfig) -> None:
        write_config(self.config_path(name), config)

    def persisted_versions(self, name: str) -> set[int]:
        """The versions config.pbtxt names (what a restarted Triton loads); empty for a policy that
        names none (``latest``, ``all``)."""
        policy = self.config(name).version_policy
        if policy.WhichOneof("policy_choice") == "specific":
            return set(policy.specific.versions)
        return set()

    def persist_versions(self, name: str, versions: set[int]) -> None:
        """Write the version policy ``specific: versions``, so a restarted Triton serves that set."""
        config = self.config(name)
        config.version_policy.Clear()
        config.version_policy.specific.versions.extend(sorted(versions))
        self.write_config(name, config)

    # --- the model contract -------------------------------------------------------------------

    def contract(self, name: str, version: int | str) -> ContractBase:
        """The version's contract. ContractMissingError: the version has none (put there by hand);
        ContractError: it is unreadable or of a schema this modelserve does not read."""
        try:
            path = self.version_dir(name, version) / METADATA_NAME
        except (ConfigValidationError, ValueError) as exc:
            raise ContractMissingError(f"model {name!r} v{version}: no such version ({exc})") from exc
        return self._read(path, self._parse_contract)

    def provenance(self, name: str, version: int | str) -> Provenance | None:
        """Where a version's weights came from; None without a readable contract."""
        try:
            return self.contract(name, version).provenance
        except ContractError:
            return None

    def random_versions(self) -> dict[str, tuple[int, ...]]:
        """Each model with versions exported with random weights, and those versions."""
        found: dict[str, tuple[int, ...]] = {}
        if not self.root.is_dir():
            return found
        for name in self.names():
            random = [v for v in self.versions(name) if (p := self.provenance(name, v)) and p.random]
            if random:
                found[name] = tuple(random)
        return found

    def random_warnings(self) -> list[str]:
        """One line per model with random-weight versions: said at every server and API start."""
        return [random_warning(name, versions) for name, versions in self.random_versions().items()]

    def _parse_contract(self, path: Path) -> ContractBase:
        if not path.is_file():
            raise ContractMissingError(f"{path}: no export contract (not written by `modelserve export`)")
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ContractError(f"{path}: unreadable ({exc}); re-export the model") from exc
        if not isinstance(raw, dict):
            raise ContractError(f"{path}: not a JSON object; re-export the model")
        return self.contracts.parse(raw, where=str(path))

    def reference(self, name: str, version: int | str) -> Reference | None:
        """A tabular version's reference sample (its training inputs) under its feature spec; None
        for other kinds and for versions exported without one."""
        try:
            spec = getattr(self.contract(name, version), "features", None)
        except ContractError:
            return None
        if isinstance(spec, dict):  # read without the tabular family's class (its common part)
            spec = FeatureSpec.from_dict(spec)
        if not isinstance(spec, FeatureSpec):
            return None
        return read_reference(self.version_dir(name, version), spec)

    # --- labels -------------------------------------------------------------------------------

    def labels(self, name: str, version: int | str) -> list[str]:
        """Class names: labels.txt beside config.pbtxt, else in the version directory; [] without."""
        for path in (self.model_dir(name) / LABELS_NAME, self.version_dir(name, version) / LABELS_NAME):
            if path.is_file():
                return list(self._read(path, lambda p: p.read_text().splitlines()))
        return []

    # --- lifecycle.json -----------------------------------------------------------------------

    def lifecycle(self, name: str) -> LifecycleState:
        """A copy of the model's lifecycle state; an empty one when it never went through the
        lifecycle commands. RepositoryReadError when the file is unreadable."""
        path = self.model_dir(name) / STATE_FILE
        if not path.exists():
            return LifecycleState()
        return copy.deepcopy(self._read(path, lambda p: parse_state(p.read_text(), where=str(p))))

    def save_lifecycle(self, name: str, state: LifecycleState) -> None:
        write_atomic(self.model_dir(name) / STATE_FILE, state_json(state).encode())

    def served_version(self, name: str) -> int | None:
        """The version the lifecycle commands named; None when none did or the file is unreadable."""
        try:
            return self.lifecycle(name).served
        except RepositoryReadError:
            return None

    # --- writing a version -------------------------------------------------------------------

    def check_version_free(self, name: str, version: int | None) -> None:
        """VersionExistsError when ``version`` of ``name`` exists (None: the next, always free).
        Exports ask before they train: a written version is never rewritten."""
        if version is None or not self.has_version(name, version):
            return
        try:
            held: str | None = self.contract(name, version).id or None
        except ContractError:
            held = None
        raise VersionExistsError(name, version, self.versions(name)[-1] + 1, held)

    def write_version(
        self,
        entry: ModelEntry,
        model: onnx.ModelProto,
        *,
        version: int | None = None,
        labels: Sequence[str] | None = None,
        contract: ContractBase | None = None,
        extra_files: Mapping[str, Path] | None = None,
        reuse: bool = False,
    ) -> WrittenVersion:
        """Validate ``entry`` against ``model`` and write one version (``writer.write_version``);
        an existing version is never rewritten (``VersionExistsError``); ``reuse``: return one
        that already holds this export instead."""
        from modelserve.repository.writer import write_version  # onnx: exporters only, not the API

        return write_version(
            self,
            entry,
            model,
            version=version,
            labels=labels,
            contract=contract,
            extra_files=extra_files,
            reuse=reuse,
        )

    # --- the cache ----------------------------------------------------------------------------

    def _read(self, path: Path, parse: Callable[[Path], T]) -> T:
        """``parse(path)``, once per version of the file (a replaced file has a new inode)."""
        try:
            st = os.stat(path)
        except OSError:
            return parse(path)  # let the parser say what is missing, in its words
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]  # type: ignore[no-any-return]
        value = parse(path)
        self._cache[path] = (stamp, value)
        return value
