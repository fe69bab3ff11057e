"""The Python-based ``onnxruntime`` Triton backend (copied into the server's backend directory)."""
