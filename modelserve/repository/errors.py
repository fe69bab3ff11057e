"""Errors of the model repository on disk.

RepositoryError
├── ConfigValidationError    a config entry disagrees with its ONNX graph or with itself (names it)
│   └── UnknownParameterError  a backend parameter the ONNX Runtime backend does not know
├── RepositoryWriteError     an entry could not be written (nothing is left half-written)
│   └── VersionExistsError   the version is already there: versions are never rewritten
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


class VersionExistsError(RepositoryWriteError):
    """An export named a version that already exists. Versions are immutable once written: Triton
    may be serving the files, and their content id is recorded; the message names the next free
    version."""

    def __init__(self, name: str, version: int, next_version: int, existing_id: str | None) -> None:
        self.name, self.version, self.next_version = name, version, next_version
        held = f" ({existing_id})" if existing_id else ""
        super().__init__(
            f"model {name!r} v{version} already exists{held}; a written version is never rewritten: "
            f"export as --version {next_version}, or leave --version out for the next one"
        )


class RepositoryReadError(RepositoryError):
    """A repository file is missing or cannot be read (the message names it)."""
