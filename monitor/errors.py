"""Errors of monitoring (a module of its own, so the CLI names them without importing the store).

StoreError   the monitoring database cannot be reached or used
"""

from __future__ import annotations


class StoreError(RuntimeError):
    """The monitoring database cannot be reached or used; the message names the URL (no password)."""
