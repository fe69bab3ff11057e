"""``modelserve export <verb>``: one command per export verb of every model family, built from the
verb's typed options (``modelserve.export.verb``), so a family brings its verbs with it.

Each command checks its options and that ``--version`` is free (before any data is read), runs the
verb, prints what was written.
Errors exit 1 with one line; a value the parser refuses (a type, a bound) exits 2 with usage.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from modelserve.cli.common import Repo, Verbose, progress, run, setup_logging
from modelserve.contracts.random_weights import random_warning
from modelserve.export.verb import ExportOptions, ExportVerb, help_of
from modelserve.families import FAMILIES, open_repository
from modelserve.repository import WrittenVersion

app = typer.Typer(help="Export models to ONNX into the Triton model repository.", no_args_is_help=True)


def report(written: WrittenVersion) -> None:
    """The version written; with random weights, a warning line too (the log has one as well, but
    a user reading the CLI's output must not miss it)."""
    name = written.model_dir.name
    if written.reused:
        typer.echo(f"unchanged {name} v{written.version} ({written.model_id}): already holds this export")
        return
    typer.echo(f"exported {name} v{written.version} ({written.model_id}) -> {written.model_path}")
    if written.provenance.random:
        typer.secho(f"warning: {random_warning(name, [written.version])}", fg=typer.colors.YELLOW)


def _parameter(f: dataclasses.Field[Any], hint: Any) -> inspect.Parameter:
    """One dataclass field as a Typer parameter: its help, flags and bounds from its metadata; a
    tuple of strings becomes a repeatable option."""
    meta = help_of(f.metadata)
    repeated = typing.get_origin(hint) is tuple
    default: Any = inspect.Parameter.empty
    if f.default is not dataclasses.MISSING:
        default = None if repeated else f.default
    if meta.positional:
        info: Any = typer.Argument(help=meta.help)
    else:
        flags = meta.flags
        if flags and not any(flag.startswith("--") for flag in flags):
            flags = ("--" + f.name.replace("_", "-"), *flags)
        info = typer.Option(*flags, help=meta.help, min=meta.min, max=meta.max)
    annotation = list[str] | None if repeated else hint
    return inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, info]
    )


def command(verb: ExportVerb[Any]) -> Any:
    """A Typer command for ``verb``: its options' fields, then --repository and --verbose."""
    hints = typing.get_type_hints(verb.options)
    fields = dataclasses.fields(verb.options)
    repeated = {f.name for f in fields if typing.get_origin(hints[f.name]) is tuple}

    def export(*, repository: Path, verbose: bool, **values: Any) -> None:
        setup_logging(verbose)
        for name in repeated:
            values[name] = tuple(values[name] or ())
        options = run(lambda: verb.options(**values))
        repo = open_repository(repository)
        if isinstance(options, ExportOptions):  # refused before any data is read or trained on
            run(lambda: repo.check_version_free(options.name, options.version))
        done = run(lambda: verb.run(repo, options, progress))
        for line in done.lines:
            typer.echo(line)
        for written in done.written:
            report(written)

    params = [_parameter(f, hints[f.name]) for f in fields]
    params.append(
        inspect.Parameter(
            "repository", inspect.Parameter.KEYWORD_ONLY, default=Path("model_repository"), annotation=Repo
        )
    )
    params.append(
        inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Verbose)
    )
    export.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    export.__doc__ = verb.help
    return export


for _family in FAMILIES:
    for _verb in _family.exports:
        app.command(_verb.name)(command(_verb))
