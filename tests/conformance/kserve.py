"""KServe v2 over plain HTTP, written from the protocol (no tritonclient): JSON and the binary-data
extension, as any client in any language speaks it."""

from __future__ import annotations

import json
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np

# KServe v2 datatype -> numpy; BYTES travel as 4-byte little-endian length + bytes per element.
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    req = urllib.request.Request(
        url, data=body, headers=headers or {}, method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def post_json(url: str, payload: dict[str, Any]) -> Answer:
    return request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def to_bytes(array: np.ndarray) -> bytes:
    if array.dtype == np.object_:
        return b"".join(struct.pack("<I", len(v)) + v for v in array.ravel())
    return np.ascontiguousarray(array).tobytes()


def from_bytes(raw: bytes, datatype: str, shape: list[int]) -> np.ndarray:
    if datatype != "BYTES":
        return np.frombuffer(raw, dtype=DATATYPES[datatype]).reshape(shape)
    items, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        items.append(raw[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return np.array(items, dtype=np.object_).reshape(shape)


def infer_binary(
    base: str, model: str, inputs: dict[str, tuple[str, np.ndarray]], outputs: list[str] | None = None
) -> tuple[Answer, dict[str, np.ndarray]]:
    """The binary-data extension: a JSON header, then each tensor's raw bytes; outputs asked as binary."""
    blobs = {name: to_bytes(array) for name, (_, array) in inputs.items()}
    header: dict[str, Any] = {
        "inputs": [
            {
                "name": name,
                "datatype": datatype,
                "shape": list(array.shape),
                "parameters": {"binary_data_size": len(blobs[name])},
            }
            for name, (datatype, array) in inputs.items()
        ],
        "parameters": {"binary_data_output": True},
    }
    if outputs is not None:
        header["outputs"] = [{"name": n, "parameters": {"binary_data": True}} for n in outputs]
    head = json.dumps(header).encode()
    answer = request(
        f"{base}/v2/models/{model}/infer",
        head + b"".join(blobs.values()),
        {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))},
    )
    if answer.status != 200:
        return answer, {}
    split = int(answer.headers["inference-header-content-length"])
    meta, data = json.loads(answer.body[:split]), answer.body[split:]
    result, offset = {}, 0
    for out in meta["outputs"]:
        size = out["parameters"]["binary_data_size"]
        result[out["name"]] = from_bytes(data[offset : offset + size], out["datatype"], out["shape"])
        offset += size
    return answer, result
