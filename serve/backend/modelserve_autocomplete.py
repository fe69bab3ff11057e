"""Fill a missing or partial model config from the ONNX graph, as Triton's ONNX Runtime backend does.

NGC Triton serves a folder holding only ``1/model.onnx`` (or a config with only a name and a
``max_batch_size``): its ONNX Runtime backend fills inputs, outputs, ``max_batch_size`` and dynamic
batching from the graph (``ModelState::AutoCompleteConfig`` in r24.10, and Triton's "Auto-Generated
Model Configuration"). Triton asks a Python-based backend for the same through the
``auto_complete_config`` staticmethod of its ``TritonPythonModel``; ``model.py`` calls this there.

The rules, as Triton's: nothing is filled when the config already lists inputs and outputs; a graph
whose every input and output has a variable first dim supports batching, and then a
``max_batch_size`` of 0 becomes Triton's default (4) and dynamic batching is switched on (unless a
sequence batcher is configured); a config asking for batching that the graph cannot do is refused.
Dims leave the batch dim out; a tensor with no other dims gets ``dims: [1]`` and an empty reshape.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

try:  # imported as serve.backend.* (tests)
    from .modelserve_signature import GraphIO, ModelConfigError, Signature
except ImportError:  # inside the stub, beside model.py
    from modelserve_signature import GraphIO, ModelConfigError, Signature  # type: ignore[no-redef]

# Triton's --backend-config=default-max-batch-size, whose default is 4.
DEFAULT_MAX_BATCH_SIZE = 4


def _count(config: Mapping[str, Any], *keys: str) -> int:
    return sum(len(config.get(key, []) or []) for key in keys)


def needs_completion(config: Mapping[str, Any]) -> bool:
    return _count(config, "input", "batch_input") == 0 or _count(config, "output") == 0


def supports_batching(sig: Signature) -> bool:
    tensors = [*sig.inputs.values(), *sig.outputs.values()]
    return all(t.dims and t.dims[0] == -1 for t in tensors)


def _tensor(io: GraphIO, max_batch: int) -> dict[str, Any]:
    dims = list(io.dims[1:] if max_batch > 0 else io.dims)
    tensor: dict[str, Any] = {"name": io.name, "data_type": io.data_type, "dims": dims or [1]}
    if not dims and max_batch > 0:
        # A batched scalar: the config needs a shape, the model takes [batch] (Triton's own choice).
        tensor["reshape"] = {"shape": []}
    return tensor


def auto_complete(
    config: Mapping[str, Any], sig: Signature, default_max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
) -> tuple[dict[str, Any], list[str]]:
    """The completed config and what was filled (for the log). The input is left unchanged."""
    done = copy.deepcopy(dict(config))
    notes: list[str] = []
    if not needs_completion(done):
        return done, notes
    name = str(done.get("name", ""))
    max_batch = int(done.get("max_batch_size", 0) or 0)
    if supports_batching(sig):
        if max_batch == 0:
            max_batch = max(default_max_batch_size, 0)
            done["max_batch_size"] = max_batch
            notes.append(
                f"autofilled max_batch_size to {max_batch} for model '{name}' since batching is supported "
                "but no max_batch_size is specified in model configuration"
            )
        if max_batch > 1 and "sequence_batching" not in done and "dynamic_batching" not in done:
            done["dynamic_batching"] = {}
            notes.append("dynamic batching enabled")
    elif max_batch != 0:
        raise ModelConfigError(
            f"autofill failed for model '{name}': model does not support batching while non-zero "
            "max_batch_size is specified"
        )
    listed = {"input": _count(done, "input", "batch_input"), "output": _count(done, "output")}
    for key, graphs in (("input", sig.inputs), ("output", sig.outputs)):
        if listed[key] == 0:
            done[key] = [_tensor(io, max_batch) for io in graphs.values()]
            notes.append(f"{key}s {', '.join(graphs)} from the graph")
    return done, notes
