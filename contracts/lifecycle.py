"""Which version of a model is *the* served one: ``<repository>/<name>/lifecycle.json``.

Written by ``modelserve models promote|rollback|retire``, read by the API (which mounts the same
repository) to pick the version it calls. Triton may have more than one version loaded during a
switch; this file says which one answers. Written by atomic rename, so a reader sees the old or
the new state, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "lifecycle.json"


@dataclass(kw_only=True)
class LifecycleState:
    served: int | None = None
    previous: list[int] = field(default_factory=list)  # earlier served versions, oldest first
    retired: list[int] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def record(self, action: str, version: int, **details: Any) -> None:
        self.events.append(
            {
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "action": action,
                "version": version,
                **details,
            }
        )


def state_path(repository: Path, name: str) -> Path:
    return repository / name / STATE_FILE


def read_state(repository: Path, name: str) -> LifecycleState:
    """The model's state; an empty one when it never went through the lifecycle commands."""
    path = state_path(repository, name)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return LifecycleState()
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable lifecycle state ({exc})") from exc
    return LifecycleState(
        served=int(raw["served"]) if raw.get("served") is not None else None,
        previous=[int(v) for v in raw.get("previous", [])],
        retired=[int(v) for v in raw.get("retired", [])],
        events=list(raw.get("events", [])),
    )


def write_state(repository: Path, name: str, state: LifecycleState) -> None:
    path = state_path(repository, name)
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    os.replace(tmp, path)
