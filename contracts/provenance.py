"""Where a version's weights came from: part of the model contract (``contracts/model.py``).

Offline, many exports carry random or tiny test weights, and their answers look as real as any
(a photo of a person comes back "Dandie_Dinmont", 0.71). The provenance says what an answer is
worth; the API shows it on every answer and the servers warn about random weights at start.

    pretrained  a published release: a hub id (at its revision), Keras ``imagenet``, a package
    local       a local file or directory someone gave the exporter
    trained     fitted here by the exporter, on a data file (tabular, recommendations)
    random      random initialisation: for tests and demos, answers mean nothing
    unknown     not recorded (a contract written before provenance existed, a hand-placed model)

``sha256`` is the weights file's digest (the data file's for ``trained``); for a directory it is
the digest of its weight files' list (``files``: relative path -> sha256, sorted), so two copies of
the same weights hash the same wherever they lie.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

WeightsOrigin = Literal["pretrained", "local", "trained", "random", "unknown"]
WEIGHTS_ORIGINS: tuple[WeightsOrigin, ...] = ("pretrained", "local", "trained", "random", "unknown")
RANDOM_WARNING = "weights are random: answers mean nothing; for tests and demos"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Provenance(BaseModel):
    """Where the weights of one version came from, and their digest where a file exists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: WeightsOrigin = "unknown"
    source: str = ""  # "hub:org/name@revision", "keras:resnet50/imagenet", "package:name 1.0", a path
    sha256: str | None = None
    files: dict[str, str] = Field(default_factory=dict)  # a directory's weight files -> sha256

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.fullmatch(value):
            raise ValueError(f"sha256 {value!r} is not 64 lowercase hex digits")
        return value

    @property
    def random(self) -> bool:
        return self.weights == "random"


__all__ = ["RANDOM_WARNING", "WEIGHTS_ORIGINS", "Provenance", "WeightsOrigin"]
