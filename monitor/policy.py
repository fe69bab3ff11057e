"""What to watch and what to do, per model: thresholds, windows and the actions degradation or
drift trigger. Read from a YAML file (``MODELSERVE_MONITORING_POLICY``); without one every model
is watched with the defaults below and nothing is triggered.

    defaults:
      f1_threshold: 0.8           # degraded below this weighted F1
    models:
      churn:
        on_degradation: retrain
        on_drift: webhook
        webhook_url: https://hooks.example.com/modelserve
        retrain: {data: data/churn.csv, target: segment, models: [random_forest]}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Action = Literal["none", "retrain", "webhook"]


class RetrainJob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path | None = Field(
        default=None, description="training table; default: the source the served version was trained on"
    )
    target: str | None = Field(default=None, description="label column; default: the served version's")
    models: tuple[str, ...] = Field(default=(), description="candidates to train; default: all")
    drop: tuple[str, ...] = ()
    min_f1: float = Field(default=0.7, ge=0, le=1, description="the new version's held-out F1 gate")
    max_drop: float = Field(default=0.01, ge=0, description="allowed F1 drop below the served version")
    # A different job altogether: argv with {model} {repository} {triton_url} {reason} filled in.
    command: tuple[str, ...] = ()
    timeout_s: float = Field(default=1800, gt=0)


class ModelPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(default=200, ge=1, description="labelled predictions the metrics cover")
    min_labelled: int = Field(default=50, ge=1, description="no verdict on fewer labelled predictions")
    f1_threshold: float = Field(default=0.8, ge=0, le=1, description="degraded below this weighted F1")
    drift_alpha: float = Field(default=0.05, gt=0, lt=1)
    drift_correction: Literal["bonferroni", "none"] = "bonferroni"
    drift_window: int = Field(default=500, ge=1, description="latest predictions drift is tested on")
    drift_min_samples: int = Field(default=200, ge=20, description="no drift test on fewer")
    on_degradation: Action = "none"
    on_drift: Action = "none"
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    retrain: RetrainJob = RetrainJob()
    cooldown_s: float = Field(default=3600, ge=0, description="no second action for a model within this")

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> ModelPolicy:
        if "webhook" in (self.on_degradation, self.on_drift) and not self.webhook_url:
            raise ValueError("a webhook action needs webhook_url")
        return self


class MonitoringPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_model(self, name: str) -> ModelPolicy:
        merged = {**self.defaults, **self.models.get(name, {})}
        return ModelPolicy.model_validate(merged)


def parse_policy(raw: Mapping[str, Any], *, where: str = "policy") -> MonitoringPolicy:
    """Validate every model's merged policy now, so a typo fails at start-up, not at the first alarm."""
    try:
        policy = MonitoringPolicy.model_validate(raw)
        policy.for_model("")
        for name in policy.models:
            policy.for_model(name)
    except ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return policy


def load_policy(path: Path | None) -> MonitoringPolicy:
    if path is None:
        return MonitoringPolicy()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"monitoring policy {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"monitoring policy {path}: expected a mapping with defaults/models")
    return parse_policy(raw, where=f"monitoring policy {path}")
