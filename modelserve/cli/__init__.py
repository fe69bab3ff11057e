"""The ``modelserve`` command line (Typer). All CLI code lives in this package: the library
packages below it only return values and raise their errors."""

from __future__ import annotations

import sys


def main() -> None:  # pragma: no cover - the console script
    try:
        from modelserve.cli.app import app
    except ImportError as exc:  # the client-only install: no Typer, no server
        sys.exit(
            f"error: the modelserve command needs more than the client install ({exc.name} is missing); "
            "install 'modelserve[cli]' (or [api], [serve], [all])"
        )
    app()
