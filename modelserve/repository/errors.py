"""Errors of the model repository on disk.

RepositoryError
├── ConfigValidationError    a config entry disagrees with its ONNX graph or with itself (names it)
│   └── UnknownParameterError  a backend parameter the ONNX Runtime backend does not know
├── RepositoryWriteError     an entry could not be written (nothing is left half-written)
└── RepositoryReadError      a file of the repository is missing or unreadable
"""

from __future__ import annotations


class RepositoryError(Exception):
    """Root of every error raised by ``modelserve.repository``."""


class ConfigValidationError(RepositoryError):
    """A model config disagrees with its ONNX graph or with itself."""


class UnknownParameterError(ConfigValidationError):
    """A config's ``parameters`` name a key (or value) the ONNX Runtime backend does not know."""


class RepositoryWriteError(RepositoryError):
    """Writing a repository entry failed."""


class RepositoryReadError(RepositoryError):
    """A repository file is missing or cannot be read (the message names it)."""
