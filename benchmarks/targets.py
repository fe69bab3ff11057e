"""What the load generator can drive: any HTTP route (raw, pre-serialised), Triton through our
client (gRPC or HTTP), and ONNX Runtime in this process (the engine's limit, no server at all)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from modelserve.benchmarks.loadgen import OK, Outcome
from modelserve.benchmarks.rawhttp import Connection, build_request, server_timing
from modelserve.client import AsyncTritonClient, ClientError

# Triton's v2 JSON datatypes for the numpy dtypes a benchmark sends.
_V2_DATATYPE = {"float32": "FP32", "float64": "FP64", "int64": "INT64", "int32": "INT32", "uint8": "UINT8"}


def v2_json_body(inputs: dict[str, np.ndarray]) -> bytes:
    """A KServe v2 JSON inference request (what Triton's and MLServer's HTTP endpoints take)."""
    tensors = []
    for name, array in inputs.items():
        if array.dtype.name not in _V2_DATATYPE:
            raise ValueError(f"input {name!r}: dtype {array.dtype} has no v2 JSON datatype here")
        tensors.append(
            {
                "name": name,
                "shape": list(array.shape),
                "datatype": _V2_DATATYPE[array.dtype.name],
                "data": array.reshape(-1).tolist(),
            }
        )
    return json.dumps({"inputs": tensors}).encode()


class HttpTarget:
    """One HTTP route; a keep-alive connection per slot. Non-``ok_status`` answers are errors named
    ``http_<status>``; a ``Server-Timing`` header, when present, becomes the request's split."""

    def __init__(
        self,
        name: str,
        url: str,
        body: bytes = b"",
        *,
        method: str = "POST",
        content_type: str = "application/json",
        items_per_request: int = 1,
        ok_status: int = 200,
    ) -> None:
        self.name = name
        self.url = url
        self.items_per_request = items_per_request
        self._raw = build_request(url, method, body, content_type if body else "")
        self._ok = ok_status
        self._connections: dict[int, Connection] = {}

    async def open(self) -> None:
        return None

    async def send(self, slot: int) -> Outcome:
        conn = self._connections.get(slot)
        if conn is None:
            conn = self._connections[slot] = Connection(self.url)
        response = await conn.send(self._raw)
        if response.status != self._ok:
            return Outcome(error=f"http_{response.status}")
        header = response.headers.get("server-timing")
        return Outcome(split_ms=server_timing(header)) if header else OK

    async def close(self) -> None:
        conns, self._connections = self._connections, {}
        await asyncio.gather(*(c.close() for c in conns.values()))


class TritonTarget:
    """One model through our ``AsyncTritonClient`` (what a Python service calling Triton runs)."""

    def __init__(
        self, name: str, url: str, model: str, inputs: dict[str, np.ndarray], *, protocol: str = "grpc"
    ) -> None:
        self.name = name
        self.url = url
        self.model = model
        self.inputs = inputs
        self.protocol = protocol
        first = next(iter(inputs.values()))
        self.items_per_request = int(first.shape[0]) if first.ndim else 1
        self._client: AsyncTritonClient | None = None

    async def open(self) -> None:
        self._client = AsyncTritonClient(self.url, protocol=self.protocol, timeout_s=60)

    async def send(self, slot: int) -> Outcome:
        assert self._client is not None, "open() first"
        try:
            await self._client.infer(self.model, self.inputs)
        except ClientError as exc:
            return Outcome(error=type(exc).__name__)
        return OK

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class InProcessTarget:
    """ONNX Runtime called directly, one thread per slot (``run`` releases the GIL): the ceiling a
    server built on this engine can approach on this machine."""

    def __init__(
        self, name: str, model_path: Path, inputs: dict[str, np.ndarray], *, threads: int = 64
    ) -> None:
        import onnxruntime as ort

        self.name = name
        self.inputs = inputs
        first = next(iter(inputs.values()))
        self.items_per_request = int(first.shape[0]) if first.ndim else 1
        options = ort.SessionOptions()
        self._session: Any = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="ort-bench")

    async def send(self, slot: int) -> Outcome:
        assert self._pool is not None, "open() first"
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._session.run, None, self.inputs)
        return OK

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
