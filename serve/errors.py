"""Errors of the embedded server.

ServeError
├── TritonNotInstalledError   the nvidia-pytriton wheel (tritonserver binary) is missing
├── UnsupportedPythonError    no Python backend stub for this interpreter
├── StubEnvironmentError      the stub's runtime environment (numpy 1.x) is missing or stale
├── CacheNotAvailableError    a response cache the wheel does not ship was asked for
├── PortInUseError            a requested port is taken
├── AddressError              a bind address that is not this machine's, or a privileged port
├── ServerStartError          the process exited or never became ready
├── RepositoryError           the model repository path is unusable
└── PathNotWritableError      a directory the server (or the demo) writes into is not writable
"""

from __future__ import annotations


class ServeError(Exception):
    """Root of every error raised by ``serve``."""


class TritonNotInstalledError(ServeError):
    """The ``tritonserver`` binary could not be found."""


class UnsupportedPythonError(ServeError):
    """The running interpreter has no matching Python backend stub."""


class StubEnvironmentError(ServeError):
    """The Python environment the backend stub runs in is missing, stale or cannot be created."""


class CacheNotAvailableError(ServeError):
    """``--cache-config`` names a cache implementation the wheel does not ship."""


class PortInUseError(ServeError):
    """A port the server should bind is already taken."""


class AddressError(ServeError):
    """A host:port the server cannot listen on for another reason than another listener."""


class ServerStartError(ServeError):
    """The server process exited early or did not become ready in time."""


class RepositoryError(ServeError):
    """The model repository is missing or unreadable."""


class PathNotWritableError(ServeError):
    """A directory to write into (the work directory, the demo's repository) is not writable."""
