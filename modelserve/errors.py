"""Errors of the end-to-end flows (the lifecycle commands, their gates).

ModelserveError
├── LifecycleError   a promotion, rollback or retirement was refused or failed
├── TuneError        a serving-config sweep could not run, or its chosen config could not be applied
└── ApiStartError    the API (or one of its worker processes) failed to start
"""

from __future__ import annotations


class ModelserveError(Exception):
    """Root of every error raised by ``modelserve``'s flows."""


class LifecycleError(ModelserveError):
    """A version change was refused or failed; the previously served version still serves."""


class TuneError(ModelserveError):
    """``modelserve tune`` could not sweep, restore or apply; the message says what the server serves."""


class ApiStartError(ModelserveError):
    """The API did not start serving; uvicorn has logged why just before."""
