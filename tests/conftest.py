"""Shared test set-up. transformers must not pick up TensorFlow (installed for the vision exports):
the same setting export/transformers_onnx.py makes, here before any test module imports it."""

import os

os.environ.setdefault("USE_TF", "0")

import atexit
import shutil
import tempfile

# Apps the tests create record predictions: into a scratch SQLite file, not the checkout's
# .modelserve/ (a test that checks the store sets its own URL). Removed when the run ends.
if "MODELSERVE_MONITORING_URL" not in os.environ:
    _scratch = tempfile.mkdtemp(prefix="modelserve-tests-")
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    os.environ["MODELSERVE_MONITORING_URL"] = f"sqlite:///{_scratch}/monitoring.sqlite"
