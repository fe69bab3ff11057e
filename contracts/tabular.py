"""The feature contract of a tabular model: which fields a record has, how each becomes numbers.

Strings cannot cross the embedded server (no BYTES), so records are encoded to one float tensor
*before* Triton: numeric fields as they are (null -> NaN, imputed inside the graph), categorical
fields as their index in the training vocabulary (unknown -> -1, one-hot inside the graph ignores
it), and datetime fields (such as ``created_at``) as hour, day of week and month. The spec is stored in the
version's metadata so the API encodes requests exactly as training did.

A request's values are checked strictly against each field's kind (``strict=True``): a category is
a string, a date a string, so a list, an object or a number never turns into a category by its
``str()``. Training encodes a pandas frame (``strict=False``), whose cells may be numbers,
booleans or Timestamps, matched by their text as the vocabulary was built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

FieldKind = Literal["numeric", "categorical", "datetime"]
DATETIME_PARTS = ("hour", "day_of_week", "month")
UNKNOWN_CATEGORY = -1.0
# A boolean column is categorical with this vocabulary (tabular_data.infer_spec): there a JSON
# true/false is the natural value, and its text is the category.
BOOLEAN_CATEGORIES = frozenset({"False", "True"})


class FeatureValidationError(ValueError):
    """A record does not fit the feature spec; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    name: str
    kind: FieldKind
    categories: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        if self.kind == "datetime":
            return tuple(f"{self.name}.{part}" for part in DATETIME_PARTS)
        return (self.name,)


@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    fields: tuple[FieldSpec, ...]
    target: str
    classes: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The tensor's column order."""
        return tuple(c for f in self.fields for c in f.columns)

    def column_index(self, name: str) -> int:
        return self.columns.index(name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fields": [asdict(f) for f in self.fields],
            "target": self.target,
            "classes": list(self.classes),
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            fields=tuple(
                FieldSpec(name=f["name"], kind=f["kind"], categories=tuple(f.get("categories", ())))
                for f in raw["fields"]
            ),
            target=str(raw["target"]),
            classes=tuple(raw["classes"]),
        )

    def encode(
        self, records: Sequence[Mapping[str, Any]], dtype: Any = np.float64, *, strict: bool = True
    ) -> np.ndarray:
        """Records -> matrix [len(records), len(columns)] of ``dtype`` (the model input's: float64,
        or float32 for models exported before float64 inputs); errors name the field and row.
        ``strict``: values as JSON brings them (a request); False for a pandas frame's records."""
        dtype = np.dtype(dtype)
        limit = float(np.finfo(dtype).max)
        if not records:
            raise FeatureValidationError("no records given")
        fast = self._encode_plain_numbers(records, dtype, limit)
        if fast is not None:
            return fast
        known = {f.name for f in self.fields}
        out = np.empty((len(records), len(self.columns)), dtype=dtype)
        dtype_name = dtype.name
        for row, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise FeatureValidationError(f"record {row} is a {type(record).__name__}, not an object")
            extra = sorted(set(record) - known - {self.target})
            if extra:
                raise FeatureValidationError(f"record {row}: unknown field '{extra[0]}'", field=extra[0])
            col = 0
            for spec in self.fields:
                if spec.name not in record:
                    raise FeatureValidationError(
                        f"record {row}: missing field '{spec.name}'", field=spec.name
                    )
                values = _encode_field(spec, record[spec.name], row, limit, dtype_name, strict)
                out[row, col : col + len(values)] = values
                col += len(values)
        return out

    @cached_property
    def _numeric_names(self) -> tuple[str, ...] | None:
        """The field names when every field is numeric (one column each), else None."""
        return tuple(f.name for f in self.fields) if all(f.kind == "numeric" for f in self.fields) else None

    def _encode_plain_numbers(
        self, records: Sequence[Mapping[str, Any]], dtype: np.dtype[Any], limit: float
    ) -> np.ndarray | None:
        """The common case in one numpy call: all-numeric spec, records with exactly its fields
        (and perhaps the target), numbers only, all finite. Anything else -> None, and the
        per-field path encodes it or says what is wrong, as before."""
        names = self._numeric_names
        if names is None:
            return None
        width, target = len(names), self.target
        rows = []
        for record in records:
            if type(record) is not dict:
                return None
            size = len(record)
            if size != width and not (size == width + 1 and target in record):
                return None
            try:
                row = [record[name] for name in names]
            except KeyError:
                return None
            for value in row:
                kind = type(value)
                if kind is not float and kind is not int:  # bool, str, None: the careful path
                    return None
            rows.append(row)
        try:
            out = np.array(rows, dtype=np.float64)
        except OverflowError:  # an integer past float64
            return None
        with np.errstate(invalid="ignore"):
            if (np.abs(out) > limit).any():  # inf, or past float32 for float32 models
                return None
        return out.astype(dtype, copy=False)


def _encode_field(
    spec: FieldSpec, value: Any, row: int, limit: float, dtype: str, strict: bool
) -> list[float]:
    where = f"record {row}: field '{spec.name}'"
    if spec.kind == "numeric":
        if value is None:
            return [math.nan]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FeatureValidationError(
                f"{where} must be a number, got {type(value).__name__}", field=spec.name
            )
        if isinstance(value, int) and abs(value) > limit:  # before any float(): 10**400 overflows
            raise FeatureValidationError(
                f"{where} must be a finite {dtype} number, got an integer of {len(str(abs(value)))} digits",
                field=spec.name,
            )
        if math.isnan(value):
            return [math.nan]  # pandas' missing value; imputed like a null
        if math.isinf(value) or abs(value) > limit:
            raise FeatureValidationError(
                f"{where} must be a finite {dtype} number, got {value!r}", field=spec.name
            )
        return [float(value)]
    if spec.kind == "categorical":
        if _missing(value):  # null, or the NaN pandas writes for a missing cell: as in training
            return [UNKNOWN_CATEGORY]
        if strict and not _category_value(spec, value):
            expected = "a string or a boolean" if _boolean(spec) else "a string"
            raise FeatureValidationError(
                f"{where} must be {expected} (a category), got {_json_type(value)}", field=spec.name
            )
        text = str(value)
        return [float(spec.categories.index(text)) if text in spec.categories else UNKNOWN_CATEGORY]
    if _missing(value):
        return [math.nan] * len(DATETIME_PARTS)
    if strict and not isinstance(value, str):  # pandas reads a number as nanoseconds since 1970
        raise FeatureValidationError(
            f"{where} must be a date/time string (e.g. '2026-03-04 19:30:00'), got {_json_type(value)}",
            field=spec.name,
        )
    return list(_datetime_parts(value, where, spec.name))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _boolean(spec: FieldSpec) -> bool:
    return bool(spec.categories) and set(spec.categories) <= BOOLEAN_CATEGORIES


def _category_value(spec: FieldSpec, value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, bool) and _boolean(spec))


def _json_type(value: Any) -> str:
    """The value's type as the request's JSON spells it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _datetime_parts(value: Any, where: str, name: str) -> tuple[float, float, float]:
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise FeatureValidationError(f"{where} is not a date/time: {value!r}", field=name) from exc
    if pd.isna(stamp):
        return (math.nan, math.nan, math.nan)
    return (float(stamp.hour), float(stamp.day_of_week), float(stamp.month))
