"""Errors of the operations on a deployment (the lifecycle commands, their gates, the API runner).

OpsError
├── LifecycleError   a promotion, rollback or retirement was refused or failed
└── ApiStartError    the API (or one of its worker processes) failed to start
"""

from __future__ import annotations


class OpsError(Exception):
    """Root of every error raised by ``modelserve.ops``."""


class LifecycleError(OpsError):
    """A version change was refused or failed; the previously served version still serves."""


class ApiStartError(OpsError):
    """The API did not start serving; uvicorn has logged why just before."""
