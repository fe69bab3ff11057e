"""The tabular kind: records -> feature spec -> class probabilities."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_serializer, field_validator

from modelserve.contracts.model import ContractBase
from modelserve.contracts.tabular import FeatureSpec


class TabularContract(ContractBase):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["tabular"] = "tabular"
    features: FeatureSpec
    inputs: dict[str, Any] = Field(default_factory=dict)  # tensor name -> dtype, shape, columns
    model: str | None = None  # the winning candidate (tabular training)
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)  # candidate -> held-out metrics
    # How the training table was cleaned (export.tabular_clean): options, rows in/out, each step.
    # Empty for models fitted on data given in process (the demo set).
    cleaning: dict[str, Any] = Field(default_factory=dict)

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
