"""Shared test set-up. transformers must not pick up TensorFlow (installed for the vision exports):
the same setting export/transformers_onnx.py makes, here before any test module imports it."""

import os

os.environ.setdefault("USE_TF", "0")
