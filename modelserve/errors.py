"""Errors of the end-to-end flows (the lifecycle commands, their gates).

ModelserveError
└── LifecycleError   a promotion, rollback or retirement was refused or failed
"""

from __future__ import annotations


class ModelserveError(Exception):
    """Root of every error raised by ``modelserve``'s flows."""


class LifecycleError(ModelserveError):
    """A version change was refused or failed; the previously served version still serves."""
