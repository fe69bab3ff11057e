"""Check a ModelConfig against its ONNX graph before anything is written.

Every problem is collected, then one ConfigValidationError names them all, so a user fixes a
config in one pass. The limits follow the NGC release the GPU compose file pins (see README); the
dims rules are Triton's, which both servers apply at load. BYTES (TYPE_STRING) tensors serve on both
(docs/triton-conformance.md); the embedded server passes them to ONNX Runtime as UTF-8 text.
"""

from __future__ import annotations

from collections.abc import Sequence

from tritonclient.grpc import model_config_pb2 as mc

from modelserve.repository.errors import ConfigValidationError
from modelserve.repository.graph import DYNAMIC, GraphSignature, GraphTensor
from modelserve.serve.backend.modelserve_signature import dims_mismatch

# NGC tritonserver 24.10 ships ONNX Runtime 1.19.x: ai.onnx opset <= 21, ai.onnx.ml <= 4, IR <= 10.
MAX_OPSET = {"": 21, "ai.onnx.ml": 4}
MAX_IR_VERSION = 10
ONNX_BACKENDS = ("onnxruntime",)
ONNX_PLATFORMS = ("onnxruntime_onnx",)


def _type_name(value: int) -> str:
    return str(mc.DataType.Name(value))


def _check_dims(
    where: str,
    config_shape: Sequence[int],
    graph: GraphTensor,
    batched: bool,
    problems: list[str],
    exact: bool = False,
) -> None:
    """Triton's rule (``dims_mismatch``, shared with our backend's check at load), in words that
    say how to fix the config."""
    if graph.shape is None:
        return  # rank unknown in the graph: nothing to compare
    mismatch = dims_mismatch(graph.shape, config_shape, 1 if batched else 0, exact)
    if mismatch is None:
        return
    graph_shape = list(graph.shape[1:] if batched else graph.shape)
    if mismatch.reason == "batch" and not graph.shape:
        problems.append(f"{where}: max_batch_size > 0 but the graph tensor is a scalar (no batch dim)")
    elif mismatch.reason == "batch":
        problems.append(
            f"{where}: max_batch_size > 0 needs a variable first (batch) dim; "
            f"the graph fixes it to {graph.shape[0]}"
        )
    elif mismatch.reason == "rank":
        problems.append(
            f"{where}: config shape {list(config_shape)} has rank {len(config_shape)}, the graph's "
            f"{_show(graph_shape)} has rank {len(graph_shape)}"
            + (" (after the batch dim)" if batched else "")
        )
    for axis in mismatch.axes:
        have = graph_shape[axis]
        shown = "variable (-1)" if have == DYNAMIC else have
        problems.append(f"{where}: dim {axis} is {config_shape[axis]} in the config but {shown} in the graph")


def _show(shape: Sequence[int]) -> str:
    return "[" + ", ".join("?" if d == DYNAMIC else str(d) for d in shape) + "]"


def _numel(shape: Sequence[int]) -> int | None:
    total = 1
    for d in shape:
        if d < 0:
            return None
        total *= d
    return total


def _check_tensor(
    kind: str, tensor: mc.ModelInput | mc.ModelOutput, graph: GraphTensor, batched: bool, problems: list[str]
) -> None:
    where = f"{kind} '{tensor.name}'"
    want_type = _type_name(tensor.data_type)
    if want_type != graph.data_type:
        problems.append(f"{where}: data_type {want_type} in the config but {graph.data_type} in the graph")
    dims = list(tensor.dims)
    model_shape = list(tensor.reshape.shape) if tensor.HasField("reshape") else dims
    if tensor.HasField("reshape"):
        a, b = _numel(dims), _numel(model_shape)
        if a is not None and b is not None and a != b:
            problems.append(
                f"{where}: dims {dims} ({a} elements) cannot reshape to {model_shape} ({b} elements)"
            )
    _check_dims(where, model_shape, graph, batched, problems, exact=kind == "output")


def validate_config(config: mc.ModelConfig, signature: GraphSignature) -> None:
    """Raise ConfigValidationError listing every way ``config`` disagrees with ``signature``."""
    problems: list[str] = []
    if config.backend not in ONNX_BACKENDS and config.platform not in ONNX_PLATFORMS:
        problems.append(
            f"backend {config.backend!r} / platform {config.platform!r}: use backend 'onnxruntime' "
            "(or platform 'onnxruntime_onnx') for ONNX models"
        )
    for domain, limit in MAX_OPSET.items():
        version = signature.opsets.get(domain)
        if version is not None and version > limit:
            problems.append(
                f"opset {domain or 'ai.onnx'} {version} is newer than {limit}, the newest NGC's ORT runs"
            )
    if signature.ir_version > MAX_IR_VERSION:
        problems.append(f"ONNX IR version {signature.ir_version} is newer than {MAX_IR_VERSION}")
    batched = config.max_batch_size > 0
    config_inputs = {t.name: t for t in config.input}
    for name in sorted(set(signature.inputs) - set(config_inputs)):
        problems.append(f"graph input '{name}' is missing from the config")
    for name, tensor in config_inputs.items():
        if name not in signature.inputs:
            problems.append(
                f"config input '{name}' is not a graph input (graph has {sorted(signature.inputs)})"
            )
        else:
            _check_tensor("input", tensor, signature.inputs[name], batched, problems)
    for tensor in config.output:
        if tensor.name not in signature.outputs:
            problems.append(
                f"config output '{tensor.name}' is not a graph output (graph has {sorted(signature.outputs)})"
            )
        else:
            _check_tensor("output", tensor, signature.outputs[tensor.name], batched, problems)
    if problems:
        raise ConfigValidationError(
            f"model '{config.name}': config does not match its ONNX graph:\n  - " + "\n  - ".join(problems)
        )
