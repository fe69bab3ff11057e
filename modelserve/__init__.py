"""modelserve: Triton + ONNX model serving. The CLI and the end-to-end flows live here."""

__version__ = "0.1.0"
