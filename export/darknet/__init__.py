"""Darknet (YOLOv3 / YOLOv3-tiny) cfg+weights -> ONNX, checked against OpenCV's Darknet importer."""
