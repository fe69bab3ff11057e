"""What a BYTES tensor costs against a numeric one through the embedded server.

The same arithmetic twice: 'simple' (INT32 [N, 16] in and out) and 'simple_string' (the same numbers
as decimal strings, BYTES in and out), served side by side, called in alternating rounds over gRPC,
one request at a time, so both see the same machine load. Prints per-request latency (mean and p50)
for each and the difference.

    python -m modelserve.benchmarks.bytes_cost --requests 2000 --rounds 4
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from modelserve.export import toy_graphs as m
from modelserve.ops.stack import local_triton


def _inputs(model: str, rows: int) -> list[grpcclient.InferInput]:
    values = np.arange(16 * rows, dtype=np.int32).reshape(rows, 16)
    tensors = []
    for name in ("INPUT0", "INPUT1"):
        if model == "simple":
            array: np.ndarray = values
            tensor = grpcclient.InferInput(name, [rows, 16], "INT32")
        else:
            array = np.array([str(v).encode() for v in values.ravel()], dtype=np.object_).reshape(rows, 16)
            tensor = grpcclient.InferInput(name, [rows, 16], "BYTES")
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per model per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        for name, graph in (("simple", m.simple()), ("simple_string", m.simple_string())):
            m.write(root, m.config_for(name, graph, 8), graph)
        latencies: dict[str, list[float]] = {"simple": [], "simple_string": []}
        with (
            local_triton(root, Path(tmp) / "work") as server,
            grpcclient.InferenceServerClient(server.endpoints.grpc_url) as c,
        ):
            for _ in range(args.rounds):
                for model in latencies:
                    inputs = _inputs(model, args.rows)
                    c.infer(model, inputs)  # warm
                    for _ in range(args.requests):
                        start = time.perf_counter()
                        c.infer(model, inputs)
                        latencies[model].append(time.perf_counter() - start)
    print(f"{'model':<15} {'requests':>8} {'mean us':>9} {'p50 us':>9}")
    for model, values in latencies.items():
        mean, p50 = statistics.fmean(values) * 1e6, statistics.median(values) * 1e6
        print(f"{model:<15} {len(values):>8} {mean:>9.0f} {p50:>9.0f}")
    extra = statistics.median(latencies["simple_string"]) - statistics.median(latencies["simple"])
    print(f"BYTES costs {extra * 1e6:.0f} us more per request at p50 ({args.rows} x 16 elements per input)")


if __name__ == "__main__":
    main()
