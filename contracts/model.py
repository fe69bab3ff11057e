"""The model contract: what an exporter promises about one version, written as ``modelserve.json``
beside ``model.onnx`` and read by the API, monitoring and the lifecycle commands.

Each model family declares its own kind of contract (``modelserve.families.<family>.contract``), a
subclass of ``ContractBase`` with a ``kind`` literal; the families' registry collects them into one
``ContractSet``, which parses a contract's JSON into its kind's class. A reader given no set (the
lifecycle commands, inventory) gets the common part of any kind (``GenericContract``); ``tensor``
(raw tensors only, no API route) is known everywhere.

``schema_version`` 3 is this layout (2 plus the weights' ``provenance``); older files are migrated
on read (``migrate_v1``: no ``schema_version``; ``migrate_v2``), and anything else fails with a
message that says how to re-export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelserve.contracts.provenance import Provenance

SCHEMA_VERSION: Literal[3] = 3
METADATA_NAME = "modelserve.json"


class ContractError(ValueError):
    """A version's contract is unreadable or of an unknown schema; the message says how to fix it."""


class ContractMissingError(ContractError):
    """The version has no contract: a model put in the repository by hand, served as raw tensors."""


class ContractBase(BaseModel):
    """What every kind's contract holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[3] = 3
    # Filled in by the repository writer when the version is written:
    name: str = ""
    version: int = 0
    id: str = ""
    sha256: str = ""
    created: str = ""
    # Where the weights came from and how the export was checked:
    source: str | dict[str, Any] | None = None
    framework: str
    versions: dict[str, str] = Field(default_factory=dict)  # package versions used by the export
    opset: dict[str, int] | int | None = None
    precision: str = "fp32"
    parity: dict[str, Any] = Field(default_factory=dict)
    preprocessing: str = ""  # what happens outside the graph, for a human reader
    provenance: Provenance = Provenance()  # where the weights came from (random: answers mean nothing)

    @classmethod
    def describe(cls) -> str:
        """How messages name the kind: 'a tabular model', 'an image-classifier model'."""
        field = cls.model_fields.get("kind")
        kind = str(field.default) if field is not None else "tensor"
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} model"

    @property
    def label(self) -> str:
        return self.describe()


class TensorContract(ContractBase):
    """Raw tensors only: served through Triton's own protocol, no API route."""

    kind: Literal["tensor"] = "tensor"


class GenericContract(ContractBase):
    """A contract of a kind the reader was not given: its common part (provenance, ids, source),
    the rest kept as it was read."""

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: str

    @property
    def label(self) -> str:
        return f"{'an' if self.kind[:1] in 'aeiou' else 'a'} {self.kind} model"


class ContractSet:
    """The kinds of contract a reader knows. ``strict``: a kind outside the set is an error (the
    API, which must serve it); otherwise it reads as a ``GenericContract``."""

    def __init__(self, kinds: Iterable[type[ContractBase]] = (), *, strict: bool = False) -> None:
        self.kinds: dict[str, type[ContractBase]] = {"tensor": TensorContract}
        for cls in kinds:
            kind = kind_of(cls)
            if kind in self.kinds and self.kinds[kind] is not cls:
                raise ValueError(f"two contract classes claim kind {kind!r}: {self.kinds[kind]} and {cls}")
            self.kinds[kind] = cls
        self.strict = strict

    def parse(self, raw: dict[str, Any], *, where: str = "contract") -> ContractBase:
        """A contract from its JSON form; older files (version 1: no ``schema_version``; 2) are
        migrated first."""
        raw = migrate(raw, where=where)
        kind = str(raw.get("kind", ""))
        cls = self.kinds.get(kind)
        if cls is None and self.strict:
            known = ", ".join(sorted(self.kinds))
            raise ContractError(f"{where}: kind {kind!r} is not one this modelserve serves ({known})")
        try:
            return (cls or GenericContract).model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in (kind, *first["loc"]))
            raise ContractError(
                f"{where}: {field}: {first['msg']}; re-export the model with `modelserve export ...`"
            ) from exc


def kind_of(cls: type[ContractBase]) -> str:
    field = cls.model_fields.get("kind")
    if field is None or not isinstance(field.default, str):
        raise ValueError(f"{cls.__name__} declares no kind (a `kind: Literal[...]` with a default)")
    return field.default


def migrate(raw: dict[str, Any], *, where: str = "contract") -> dict[str, Any]:
    schema = raw.get("schema_version")
    if schema is None:
        return migrate_v2(migrate_v1(raw))
    if schema == 2:
        return migrate_v2(raw)
    if schema != SCHEMA_VERSION:
        raise ContractError(
            f"{where}: schema_version {schema!r} is not one this modelserve reads ({SCHEMA_VERSION}); "
            "re-export the model with this modelserve (`modelserve export ...`)"
        )
    return raw


def contract_json(contract: ContractBase) -> str:
    return json.dumps(contract.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


_V1_COMMON = ("name", "version", "id", "sha256", "created", "source", "framework", "versions", "opset")


def migrate_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 contract (free-form keys) -> version 2. The only place that works out a model's
    kind from which keys it has: version 1 wrote no kind."""
    out: dict[str, Any] = {k: raw[k] for k in _V1_COMMON if k in raw}
    out.update(schema_version=2, parity=raw.get("parity") or {})
    out.setdefault("framework", "unknown")
    if isinstance(raw.get("precision"), str):
        out["precision"] = raw["precision"]
    if isinstance(raw.get("preprocessing"), str):
        out["preprocessing"] = raw["preprocessing"]
    task = raw.get("task")
    if "features" in raw:
        out.update(kind="tabular", features=raw["features"], inputs=raw.get("inputs") or {})
        out.update(model=raw.get("model"), metrics=raw.get("metrics") or {})
    elif "decoding" in raw:
        out.update(kind="detection", decoding=raw["decoding"])
    elif task == "recommendations":
        out.update(kind="recommendations", users=raw["users"], items=raw["items"], popular=raw["popular"])
        out["similar_users"] = raw.get("similar_users", 0)
    elif task in ("sentiment", "nli", "ner", "embeddings"):
        out.update(
            kind="text", task=task, inputs=list(raw.get("inputs") or ()), labels=raw.get("labels") or []
        )
        for key in ("entailment_index", "tokenizer", "max_length", "pairs"):
            if raw.get(key) is not None:
                out[key] = raw[key]
    elif isinstance(raw.get("preprocessing"), dict) and isinstance(raw.get("source"), dict):
        variant = raw["source"].get("variant")
        pre = {k: v for k, v in raw["preprocessing"].items() if k in _IMAGE_FIELDS}
        out.update(kind="image-features" if variant == "features" else "image-classifier", image=pre)
        out["preprocessing"] = "decode, RGB, resize as `image` says; the rest is in the graph"
    else:
        out["kind"] = "tensor"
    return out


def migrate_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-2 contract -> version 3: the weights' provenance, from what version 2 recorded
    where that says it for certain (a vision export's ``weights`` argument; tabular and
    recommendation models are trained by their exporter), else ``unknown``. No file is read: a
    digest the export did not take is not made up later."""
    return {**raw, "schema_version": SCHEMA_VERSION, "provenance": _v2_provenance(raw)}


def _v2_provenance(raw: dict[str, Any]) -> dict[str, Any]:
    kind, source = raw.get("kind"), raw.get("source")
    if kind in ("tabular", "recommendations"):
        return {"weights": "trained", "source": source if isinstance(source, str) else ""}
    recorded: dict[str, Any] = source if isinstance(source, dict) else {}
    weights, arch = recorded.get("weights"), recorded.get("arch", "")
    if kind in ("image-classifier", "image-features") and isinstance(weights, str):
        if weights == "random":
            return {"weights": "random", "source": f"keras:{arch}"}
        if weights == "imagenet":
            return {"weights": "pretrained", "source": f"keras:{arch}/imagenet"}
        return {"weights": "local", "source": weights}
    return {"weights": "unknown"}


_IMAGE_FIELDS = ("layout", "size", "channel_order", "range", "resize", "in_graph")

__all__ = [
    "METADATA_NAME",
    "SCHEMA_VERSION",
    "ContractBase",
    "ContractError",
    "ContractMissingError",
    "ContractSet",
    "GenericContract",
    "TensorContract",
    "contract_json",
    "kind_of",
    "migrate",
    "migrate_v1",
    "migrate_v2",
]
