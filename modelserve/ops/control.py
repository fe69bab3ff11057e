"""Where the CLI finds the control key of a server it talks to.

``modelserve up``/``serve`` lock Triton's control plane (load, unload, the repository index,
shared-memory registration, trace and log settings) behind a key and write it, readable by the
owner only, to ``<work dir>/control.key``. Commands that load, unload or promote take the key from
``--control-key``/``MODELSERVE_CONTROL_KEY``, else from that file.
"""

from __future__ import annotations

import os
from pathlib import Path

KEY_FILE = "control.key"


def write_key(work_dir: Path, key: str) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / KEY_FILE
    path.unlink(missing_ok=True)  # a new file gets the mode below; an old one keeps its own
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return path


def resolve_key(explicit: str | None, work_dir: Path) -> str | None:
    """The key given, else the one a server started from ``work_dir`` wrote, else None."""
    if explicit:
        return explicit
    path = work_dir / KEY_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
