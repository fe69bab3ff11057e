"""An export verb: a model family's typed export request and the function that carries it out.

A verb's options are a keyword-only frozen dataclass that validates itself; each field carries its
help text (and, where it has them, its short flags and bounds) as metadata, so ``modelserve export
<verb>`` is built from it without a hand-written command, and a family adds a verb without touching
the CLI. ``run`` takes the repository, the options and a progress callback and returns what it
wrote; it imports its converters itself, so listing the verbs stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from modelserve.repository import ModelRepository, WrittenVersion, check_model_name

Opts = TypeVar("Opts")
Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class FieldHelp:
    """How one option reads on a command line: its help, flags (default ``--field-name``), whether
    it is a positional argument, and numeric bounds checked before the export starts."""

    help: str
    flags: tuple[str, ...] = ()
    positional: bool = False
    min: float | None = None
    max: float | None = None


def arg(help: str) -> Mapping[str, Any]:
    """Field metadata: a positional argument."""
    return {"help": FieldHelp(help=help, positional=True)}


def opt(help: str, *flags: str, min: float | None = None, max: float | None = None) -> Mapping[str, Any]:
    """Field metadata: an option (``flags`` such as ``"--target", "-t"``)."""
    return {"help": FieldHelp(help=help, flags=flags, min=min, max=max)}


def help_of(metadata: Mapping[str, Any]) -> FieldHelp:
    found = metadata.get("help")
    if not isinstance(found, FieldHelp):
        raise TypeError("an export option needs arg(...) or opt(...) metadata")
    return found


# The options every family's verb shares.
NAME = opt("model name in the repository", "--name", "-n")
VERSION = opt("version number (default: next)", min=1)
RANDOM_WEIGHTS = opt(
    "the given weights are random initialisation (tests, demos): recorded so in the contract and shown "
    "on every answer",
    "--random-weights",
)


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """What every export verb takes: the model's name (checked before any data is read: a tabular
    export trains every candidate first) and its version."""

    name: str = field(metadata=NAME)
    version: int | None = field(default=None, metadata=VERSION)

    def __post_init__(self) -> None:
        check_model_name(self.name)


@dataclass(frozen=True, kw_only=True)
class WeightsOptions(ExportOptions):
    """An export of weights someone else trained: they may be random (tests, demos)."""

    random_weights: bool = field(default=False, metadata=RANDOM_WEIGHTS)


@dataclass(frozen=True, kw_only=True)
class ExportReport:
    """What a verb wrote, and lines to show before it (a training's metrics table)."""

    written: tuple[WrittenVersion, ...]
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ExportVerb(Generic[Opts]):
    name: str
    help: str  # the first line is the verb's one-line summary
    options: type[Opts]
    run: Callable[[ModelRepository, Opts, Progress], ExportReport] = field(repr=False)


__all__ = [
    "NAME",
    "RANDOM_WEIGHTS",
    "VERSION",
    "ExportOptions",
    "ExportReport",
    "ExportVerb",
    "FieldHelp",
    "Progress",
    "WeightsOptions",
    "arg",
    "help_of",
    "opt",
]
