"""The model contract: what an exporter promises about one version, written as ``modelserve.json``
beside ``model.onnx`` and read by the API, monitoring and the lifecycle commands.

One pydantic model per kind of model, discriminated on ``kind``:

    tabular            records -> feature spec -> class probabilities      POST /v1/models/{name}/predict
    image-classifier   image -> top-k labels                               POST /v1/vision/{name}/classify
    image-features     image -> pooled embedding                           POST /v1/vision/{name}/features
    detection          image -> boxes (YOLO decoding contract)             POST /v1/vision/{name}/detect
    text               texts -> tokenizer -> a task's answer               POST /v1/text/{name}/...
    recommendations    user id -> ranked items                             GET  /v1/recommendations/{user}
    tensor             raw tensors only (Triton's own protocol)

A new family is a new variant here, an exporter that builds it, and a router that asks the catalog
for it. ``schema_version`` 3 is this layout (2 plus the weights' ``provenance``); older files are
migrated on read (``migrate_v1``: no ``schema_version``; ``migrate_v2``), and anything else fails
with a message that says how to re-export.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_serializer,
    field_validator,
)

from modelserve.contracts.provenance import Provenance
from modelserve.contracts.tabular import FeatureSpec

SCHEMA_VERSION: Literal[3] = 3
METADATA_NAME = "modelserve.json"
TextTask = Literal["sentiment", "nli", "ner", "embeddings"]


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


class TabularContract(ContractBase):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["tabular"] = "tabular"
    features: FeatureSpec
    inputs: dict[str, Any] = Field(default_factory=dict)  # tensor name -> dtype, shape, columns
    model: str | None = None  # the winning candidate (tabular training)
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)  # candidate -> held-out metrics

    @field_validator("features", mode="before")
    @classmethod
    def _spec(cls, value: Any) -> FeatureSpec:
        return value if isinstance(value, FeatureSpec) else FeatureSpec.from_dict(value)

    @field_serializer("features")
    def _spec_out(self, spec: FeatureSpec) -> dict[str, Any]:
        return spec.as_dict()

    @property
    def input_dtype(self) -> str:
        """The ``features`` tensor's numpy dtype: float64 (exact trees), float32 in older exports."""
        return str(self.inputs.get("features", {}).get("dtype", "float32"))


class ImagePreprocessing(BaseModel):
    """How the API turns an image into the graph's input; the rest happens inside the graph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: Literal["NHWC", "NCHW"] = "NHWC"
    size: tuple[int, int]  # height, width
    channel_order: Literal["RGB", "BGR"] = "RGB"
    range: tuple[float, float] = (0.0, 255.0)
    resize: Literal["nearest", "bilinear"] = "nearest"
    in_graph: str = ""


class _ImageContract(ContractBase):
    image: ImagePreprocessing
    input: str = "images"


class ImageClassifierContract(_ImageContract):
    kind: Literal["image-classifier"] = "image-classifier"
    output: str = "probabilities"


class ImageFeaturesContract(_ImageContract):
    kind: Literal["image-features"] = "image-features"
    output: str = "embedding"


class DetectionContract(ContractBase):
    kind: Literal["detection"] = "detection"
    decoding: dict[str, Any]  # contracts.yolo's decoding contract: layout, input, outputs, class_names

    @field_validator("decoding")
    @classmethod
    def _decoding(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("layout") not in ("darknet_v3_raw", "yolov8"):
            raise ValueError(f"decoding.layout {value.get('layout')!r}; expected darknet_v3_raw or yolov8")
        if not isinstance(value.get("input"), dict) or not value.get("outputs"):
            raise ValueError("decoding needs 'input' (name, shape) and 'outputs'")
        return value


class TextContract(ContractBase):
    kind: Literal["text"] = "text"
    task: TextTask
    inputs: tuple[str, ...]  # the graph's token inputs, in the order the API sends them
    labels: tuple[str, ...] = ()
    entailment_index: int | None = None  # nli: which logit means "entailment"
    tokenizer: str = "tokenizer"  # directory inside the version
    max_length: int = 512
    pairs: bool = False  # the task takes (text, text) pairs

    @property
    def output(self) -> str:
        return "sentence_embedding" if self.task == "embeddings" else "logits"


class RecommendationsContract(ContractBase):
    kind: Literal["recommendations"] = "recommendations"
    users: tuple[str, ...]
    items: tuple[str, ...]
    popular: tuple[int, ...]  # item indices, most rated first (cold start)
    similar_users: int
    ratings_file: str = "ratings.npy"  # the user x item rating matrix, inside the version


class TensorContract(ContractBase):
    kind: Literal["tensor"] = "tensor"


ModelContract = Annotated[
    TabularContract
    | ImageClassifierContract
    | ImageFeaturesContract
    | DetectionContract
    | TextContract
    | RecommendationsContract
    | TensorContract,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[ModelContract] = TypeAdapter(ModelContract)


class ContractSet:
    """The kinds of contract a reader knows: ``parse`` turns a contract's JSON form into its kind's
    class (``ModelRepository`` reads files through one)."""

    def __init__(self, adapter: TypeAdapter[Any]) -> None:
        self._adapter = adapter

    @classmethod
    def generic(cls) -> ContractSet:
        return cls(_ADAPTER)

    def parse(self, raw: dict[str, Any], *, where: str = "contract") -> ModelContract:
        return parse_contract(raw, where=where, adapter=self._adapter)


def parse_contract(
    raw: dict[str, Any], *, where: str = "contract", adapter: TypeAdapter[Any] = _ADAPTER
) -> ModelContract:
    """A contract from its JSON form; older files (version 1: no ``schema_version``; 2) are migrated."""
    schema = raw.get("schema_version")
    if schema is None:
        raw = migrate_v2(migrate_v1(raw))
    elif schema == 2:
        raw = migrate_v2(raw)
    elif schema != SCHEMA_VERSION:
        raise ContractError(
            f"{where}: schema_version {schema!r} is not one this modelserve reads ({SCHEMA_VERSION}); "
            "re-export the model with this modelserve (`modelserve export ...`)"
        )
    try:
        contract: ModelContract = adapter.validate_python(raw)
        return contract
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ContractError(
            f"{where}: {field}: {first['msg']}; re-export the model with `modelserve export ...`"
        ) from exc


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
        pre = {k: v for k, v in raw["preprocessing"].items() if k in ImagePreprocessing.model_fields}
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


__all__ = [
    "METADATA_NAME",
    "SCHEMA_VERSION",
    "ContractBase",
    "ContractError",
    "ContractMissingError",
    "ContractSet",
    "DetectionContract",
    "ImageClassifierContract",
    "ImageFeaturesContract",
    "ImagePreprocessing",
    "ModelContract",
    "RecommendationsContract",
    "TabularContract",
    "TensorContract",
    "TextContract",
    "contract_json",
    "migrate_v1",
    "migrate_v2",
    "parse_contract",
]
