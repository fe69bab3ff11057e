"""Split Darknet .cfg text into raw [sections] of key=value entries, each remembering its line.

Darknet's own reader strips all whitespace and skips lines starting with '#' or ';'; we do the same
(and also drop a trailing '# comment'). Typed interpretation lives in darknet_cfg.
"""

from __future__ import annotations

import re

from modelserve.export.errors import DarknetFormatError

SECTION_ALIASES = {"network": "net", "conv": "convolutional", "max": "maxpool"}
# Per section kind: keys that only matter for training; accepted and ignored.
TRAINING_ONLY_KEYS = {
    "yolo": frozenset(
        {
            "jitter",
            "ignore_thresh",
            "truth_thresh",
            "random",
            "resize",
            "iou_normalizer",
            "cls_normalizer",
            "obj_normalizer",
            "iou_loss",
            "iou_thresh_kind",
            "beta_nms",
            "nms_kind",
            "max_delta",
            "max",
            "counters_per_class",
            "label_smooth_eps",
            "objectness_smooth",
            "focal_loss",
            "max_boxes",
        }
    ),
}


class RawSection:
    """One raw [section]: key -> (value, line); hands out typed values and rejects leftovers."""

    def __init__(self, source: str, kind: str, line: int) -> None:
        self.source, self.kind, self.line = source, kind, line
        self.values: dict[str, tuple[str, int]] = {}
        self._used: set[str] = set()

    def error(self, message: str, line: int | None = None) -> DarknetFormatError:
        return DarknetFormatError(f"{self.source}:{line or self.line}: [{self.kind}] {message}")

    def add(self, key: str, value: str, line: int) -> None:
        if key in self.values:
            raise self.error(f"duplicate key '{key}' (first on line {self.values[key][1]})", line)
        self.values[key] = (value, line)

    def text(self, key: str, default: str | None = None) -> str:
        self._used.add(key)
        if key in self.values:
            return self.values[key][0]
        if default is None:
            raise self.error(f"missing required key '{key}'")
        return default

    def number(self, key: str, default: float | None = None, *, integer: bool = True) -> float:
        raw = self.text(key, None if default is None else repr(default))
        try:
            value = float(raw)
        except ValueError:
            raise self.error(f"{key}={raw!r} is not a number", self.values[key][1]) from None
        if integer and not value.is_integer():
            raise self.error(f"{key}={raw!r} must be an integer", self.values[key][1])
        return value

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> int:
        value = int(self.number(key, default))
        if minimum is not None and value < minimum:
            raise self.error(
                f"{key}={value} must be >= {minimum}", self.values[key][1] if key in self.values else None
            )
        return value

    def numbers(self, key: str, *, integer: bool) -> list[float]:
        raw = self.text(key)
        try:
            values = [float(part) for part in raw.split(",") if part]
        except ValueError:
            raise self.error(f"{key}={raw!r} is not a comma-separated list", self.values[key][1]) from None
        if not values or (integer and not all(v.is_integer() for v in values)):
            raise self.error(
                f"{key}={raw!r} must be a non-empty list of {'integers' if integer else 'numbers'}"
            )
        return values

    def finish(self, ignorable: frozenset[str] = frozenset()) -> None:
        for key, (_value, line) in self.values.items():
            if key not in self._used and key not in ignorable:
                raise self.error(f"unsupported key '{key}'", line)


def split_sections(text: str, source: str) -> list[RawSection]:
    sections: list[RawSection] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"\s+", "", raw.split("#", 1)[0])
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise DarknetFormatError(f"{source}:{number}: malformed section header {raw.strip()!r}")
            kind = line[1:-1].lower()
            sections.append(RawSection(source, SECTION_ALIASES.get(kind, kind), number))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            if not key or not value:
                raise sections[-1].error(f"malformed entry {raw.strip()!r}", number)
            sections[-1].add(key.lower(), value, number)
        else:
            where = f"[{sections[-1].kind}] " if sections else "before any section: "
            raise DarknetFormatError(f"{source}:{number}: {where}expected key=value, got {raw.strip()!r}")
    if not sections or sections[0].kind != "net":
        raise DarknetFormatError(f"{source}: the first section must be [net]")
    return sections
