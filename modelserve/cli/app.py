"""The ``modelserve`` command: every verb group put together. Each verb parses, calls one library
function, prints; a failure a user can act on is one line and exit 1 (``common.run``)."""

from __future__ import annotations

import typer

from modelserve.cli import bench, export, infer, models, monitor, pipeline, serving, tune

app = typer.Typer(
    help="Serve ONNX models with NVIDIA Triton: export, serve, query.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(models.app, name="models")
app.add_typer(export.app, name="export")
app.add_typer(bench.app, name="bench")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(monitor.app, name="monitor")
app.command("tune")(tune.tune)
app.command("infer")(infer.infer)
for verb in (serving.demo, serving.serve, serving.up, serving.api):
    app.command()(verb)
app.command("stub-env")(serving.stub_env)
