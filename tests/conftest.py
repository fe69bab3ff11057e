"""Shared test set-up. transformers must not pick up TensorFlow (installed for the vision exports):
the same setting export/transformers_onnx.py makes, here before any test module imports it."""

import os

os.environ.setdefault("USE_TF", "0")

import tempfile

# Apps the tests create record predictions: into a scratch SQLite file, not the checkout's
# .modelserve/ (a test that checks the store sets its own URL).
os.environ.setdefault(
    "MODELSERVE_MONITORING_URL", f"sqlite:///{tempfile.mkdtemp(prefix='modelserve-tests-')}/monitoring.sqlite"
)
