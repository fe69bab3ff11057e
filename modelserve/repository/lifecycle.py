"""Which version of a model is *the* served one: ``<repository>/<name>/lifecycle.json``.

Written by ``modelserve models promote|rollback|retire``, read by the API (which mounts the same
repository) to pick the version it calls. Triton may have more than one version loaded during a
switch; this file says which one answers. ``ModelRepository`` reads and writes it (by atomic rename,
so a reader sees the old or the new state, never half of one); this module is its format.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from modelserve.repository.errors import RepositoryReadError

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


def parse_state(text: str, *, where: str) -> LifecycleState:
    try:
        raw = json.loads(text)
        return LifecycleState(
            served=int(raw["served"]) if raw.get("served") is not None else None,
            previous=[int(v) for v in raw.get("previous", [])],
            retired=[int(v) for v in raw.get("retired", [])],
            events=list(raw.get("events", [])),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise RepositoryReadError(f"{where}: unreadable lifecycle state ({exc})") from exc


def state_json(state: LifecycleState) -> str:
    return json.dumps(asdict(state), indent=2) + "\n"
