"""``python -m export ...``: the same verbs as ``modelserve export ...``."""

from modelserve.export.cli import app

app(prog_name="python -m export")
