"""What the API knows about a served model: the version Triton serves and the contract its exporter
wrote for it (``contracts.model``), plus the files that travel with that version (labels, and each
family's own assets: a tokenizer, a rating matrix). Read from the repository (mounted read-only
beside Triton), cached per version.

The catalog owns the Triton client the API talks through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from modelserve.client import AsyncTritonClient, ModelNotFoundError
from modelserve.contracts.model import ContractBase, ContractError, ContractMissingError
from modelserve.contracts.provenance import Provenance
from modelserve.repository import ModelRepository
from modelserve.serving.errors import ApiError, NotFoundError, UnavailableError

C = TypeVar("C", bound=ContractBase)
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Served(Generic[C]):
    """One served version and its contract, of the kind the caller asked for."""

    name: str
    version: str
    contract: C

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)


class Catalog:
    """``versions_ttl_s``: how long the served version of a model is trusted before Triton is asked
    again. Asking on every request cost a gRPC round trip (~1 ms here, as much as the inference of
    a small model); a version switch shows within the TTL, or at once after an inference names a
    version Triton no longer serves (``forget``)."""

    def __init__(
        self, repository: ModelRepository, triton: AsyncTritonClient, *, versions_ttl_s: float = 1.0
    ) -> None:
        self.repository = repository
        self.triton = triton
        self.versions_ttl_s = versions_ttl_s
        self._versions: dict[str, tuple[float, str]] = {}  # name -> (checked at, version)
        self._contracts: dict[tuple[str, str], ContractBase] = {}
        self._labels: dict[tuple[str, str], list[str]] = {}
        self._assets: dict[tuple[str, str, str], Any] = {}
        self._max_batch: dict[tuple[str, str], int] = {}
        self.known: set[str] = set()  # names Triton has served: the only ones metrics label by name

    async def served_version(self, name: str) -> str:
        """The version requests for ``name`` go to: the one the lifecycle commands named while
        Triton has it loaded, otherwise the newest loaded."""
        checked = self._versions.get(name)
        if checked is not None and time.monotonic() - checked[0] < self.versions_ttl_s:
            return checked[1]
        try:
            meta = await self.triton.metadata(name)
        except ModelNotFoundError as exc:
            plain = Path(name).name == name and not name.startswith(".")  # no path tricks in a URL name
            if plain and self.repository.has_model(name):  # exported, but not loaded (or unloaded)
                raise UnavailableError(
                    f"model '{name}' is in the repository but not loaded in Triton"
                ) from exc
            raise NotFoundError(f"model '{name}' is not served") from exc
        versions = sorted((v for v in meta.versions if v.isdigit()), key=int)
        if not versions:
            raise NotFoundError(f"model '{name}' has no numbered version ready")
        chosen = self.repository.served_version(name)
        version = str(chosen) if chosen is not None and str(chosen) in versions else versions[-1]
        self._versions[name] = (time.monotonic(), version)
        self.known.add(name)
        return version

    async def served(self, name: str, kind: type[C]) -> Served[C]:
        """The served version of ``name`` with its contract, which must be of ``kind``: a route
        asks for the kind it serves and gets a 404 naming the model's real kind otherwise."""
        return self.served_at(name, await self.served_version(name), kind)

    def served_at(self, name: str, version: str, kind: type[C]) -> Served[C]:
        """``version`` of ``name`` with its contract (the version a retry landed on)."""
        contract = self.contract(name, version)
        if not isinstance(contract, kind):
            raise NotFoundError(f"model '{name}' is {contract.label}, not {kind.describe()}")
        return Served(name=name, version=version, contract=contract)

    def contract(self, name: str, version: str) -> ContractBase:
        key = (name, version)
        if key not in self._contracts:
            try:
                self._contracts[key] = self.repository.contract(name, version)
            except ContractMissingError as exc:  # its text names a path on this server: not for clients
                raise NotFoundError(
                    f"model '{name}' v{version} has no export contract (not written by `modelserve "
                    "export`): it serves raw tensors through Triton's own protocol only"
                ) from exc
            except ContractError as exc:
                raise UnavailableError(f"model '{name}' v{version}: {exc}") from exc
        return self._contracts[key]

    def provenance(self, name: str, version: str) -> Provenance | None:
        """Where a version's weights came from, for listings: None when Triton names no version
        or the version has no readable contract (a listing shows every model; it never fails)."""
        if not version.isdigit() or Path(name).name != name or name.startswith("."):
            return None
        try:
            return self.contract(name, version).provenance
        except ApiError:
            return None

    async def max_batch(self, served: Served[C]) -> int:
        """The served version's max_batch_size in Triton (0: the model does not batch)."""
        if served.key not in self._max_batch:
            try:
                config = await self.triton.config(served.name, served.version)
            except ModelNotFoundError as exc:  # unloaded since its version was looked up
                raise NotFoundError(f"model '{served.name}' version {served.version} is not served") from exc
            self._max_batch[served.key] = int(config.max_batch_size)
        return self._max_batch[served.key]

    def forget(self, name: str) -> None:
        """Ask Triton again next time (an inference found the cached version gone)."""
        self._versions.pop(name, None)

    def _version_dir(self, served: Served[C]) -> Path:
        return self.repository.version_dir(served.name, served.version)

    def labels(self, served: Served[C]) -> list[str]:
        """Class names (labels.txt beside config.pbtxt, or in the version directory), read once."""
        if served.key not in self._labels:
            self._labels[served.key] = self.repository.labels(served.name, served.version)
        return self._labels[served.key]

    def asset(self, served: Served[C], key: str, load: Callable[[Path, C], T]) -> T:
        """A file that travels with the served version (a tokenizer, a rating matrix), loaded once
        per version by the family's ``load(version_dir, contract)``."""
        cache_key = (*served.key, key)
        if cache_key not in self._assets:
            self._assets[cache_key] = load(self._version_dir(served), served.contract)
        return self._assets[cache_key]  # type: ignore[no-any-return]
