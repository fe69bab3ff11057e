"""Users' ``backend: "python"`` models for the conformance suite, copied into a repository as
``<model>/1/model.py``. They import ``triton_python_backend_utils``, which only the stub provides."""
