"""ONNX graphs and Triton configs for the conformance suite, built here (nothing downloaded).

The sequence, string and python-backend models take the names, shapes and behaviour of NVIDIA's
documented examples (simple, simple_string, simple_sequence, simple_dyna_sequence, add_sub), rebuilt
from Triton's documentation as our own graphs and configs. Configs are protobuf messages.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.export.toy_graphs import (
    INT32,
    NUMERIC_TYPES,
    config_for,
    graph,
    io,
    simple,
    simple_string,
    tensor,
    write,
)

# The shared helpers and NVIDIA's simple examples live in the product (the BYTES benchmark serves
# them); the conformance tests reach them through this module with the rest.
__all__ = [
    "INT32",
    "NUMERIC_TYPES",
    "config_for",
    "graph",
    "io",
    "simple",
    "simple_string",
    "tensor",
    "write",
]


def _control(name: str, kind: str, flag_type: str) -> mc.ModelSequenceBatching.ControlInput:
    control = mc.ModelSequenceBatching.Control(kind=mc.ModelSequenceBatching.Control.Kind.Value(kind))
    if kind == "CONTROL_SEQUENCE_CORRID":
        control.data_type = mc.DataType.Value(flag_type)
    elif flag_type == "TYPE_FP32":
        control.fp32_false_true.extend([0.0, 1.0])
    elif flag_type == "TYPE_BOOL":
        control.bool_false_true.extend([False, True])
    else:
        control.int32_false_true.extend([0, 1])
    return mc.ModelSequenceBatching.ControlInput(name=name, control=[control])


def simple_sequence() -> tuple[mc.ModelConfig, onnx.ModelProto]:
    """'simple_sequence' (direct): OUTPUT = READY * (INPUT + START)."""
    names = ("INPUT", "START", "READY")
    ins = [tensor(n, INT32, ["N", 1]) for n in names]
    nodes = [
        helper.make_node("Add", ["INPUT", "START"], ["sum"]),
        helper.make_node("Mul", ["READY", "sum"], ["OUTPUT"]),
    ]
    model = graph(nodes, ins, [tensor("OUTPUT", INT32, ["N", 1])], "simple_sequence")
    config = mc.ModelConfig(name="simple_sequence", platform="onnxruntime_onnx", max_batch_size=8)
    config.sequence_batching.control_input.extend(
        [
            _control("START", "CONTROL_SEQUENCE_START", "TYPE_INT32"),
            _control("READY", "CONTROL_SEQUENCE_READY", "TYPE_INT32"),
        ]
    )
    config.input.add(**io("INPUT", "TYPE_INT32", [1]))
    config.output.add(**io("OUTPUT", "TYPE_INT32", [1]))
    config.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU)
    return config, model


def simple_dyna_sequence() -> tuple[mc.ModelConfig, onnx.ModelProto]:
    """'simple_dyna_sequence' (oldest, 2 instances): OUTPUT = READY * (INPUT + START + END * CORRID)."""
    ins = [tensor(n, INT32, ["N", 1]) for n in ("INPUT", "START", "END", "READY")]
    ins.append(tensor("CORRID", TensorProto.UINT64, ["N", 1]))
    nodes = [
        helper.make_node("Cast", ["CORRID"], ["corrid"], to=INT32),
        helper.make_node("Add", ["INPUT", "START"], ["a"]),
        helper.make_node("Mul", ["END", "corrid"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["c"]),
        helper.make_node("Mul", ["READY", "c"], ["OUTPUT"]),
    ]
    model = graph(nodes, ins, [tensor("OUTPUT", INT32, ["N", 1])], "simple_dyna_sequence")
    config = mc.ModelConfig(name="simple_dyna_sequence", platform="onnxruntime_onnx", max_batch_size=8)
    batching = config.sequence_batching
    batching.max_sequence_idle_microseconds = 10_000_000
    batching.oldest.max_candidate_sequences = 1024
    batching.oldest.max_queue_delay_microseconds = 10_000
    batching.control_input.extend(
        [
            _control("START", "CONTROL_SEQUENCE_START", "TYPE_INT32"),
            _control("END", "CONTROL_SEQUENCE_END", "TYPE_INT32"),
            _control("READY", "CONTROL_SEQUENCE_READY", "TYPE_INT32"),
            _control("CORRID", "CONTROL_SEQUENCE_CORRID", "TYPE_UINT64"),
        ]
    )
    config.input.add(**io("INPUT", "TYPE_INT32", [1]))
    config.output.add(**io("OUTPUT", "TYPE_INT32", [1]))
    config.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU, count=2)
    return config, model


# --- our own models for what the examples do not cover ---------------------------------------------

_FLAG_ELEM = {"TYPE_INT32": INT32, "TYPE_FP32": TensorProto.FLOAT, "TYPE_BOOL": TensorProto.BOOL}
_CORRID_ELEM = {
    "TYPE_UINT64": TensorProto.UINT64,
    "TYPE_INT64": TensorProto.INT64,
    "TYPE_UINT32": TensorProto.UINT32,
    "TYPE_INT32": INT32,
    "TYPE_STRING": TensorProto.STRING,
}
CONTROL_KINDS = {
    "START": "CONTROL_SEQUENCE_START",
    "END": "CONTROL_SEQUENCE_END",
    "READY": "CONTROL_SEQUENCE_READY",
    "CORRID": "CONTROL_SEQUENCE_CORRID",
}


def control_echo(
    name: str, flag_type: str, corrid_type: str, strategy: str
) -> tuple[mc.ModelConfig, onnx.ModelProto]:
    """Every control input echoed to an output (OUT_START, ...), so a test reads what the batcher fed."""
    ins = [tensor("INPUT", INT32, ["N", 1])]
    outs = [tensor("OUTPUT", INT32, ["N", 1])]
    nodes = [helper.make_node("Identity", ["INPUT"], ["OUTPUT"])]
    for control in CONTROL_KINDS:
        elem = _CORRID_ELEM[corrid_type] if control == "CORRID" else _FLAG_ELEM[flag_type]
        ins.append(tensor(control, elem, ["N", 1]))
        outs.append(tensor(f"OUT_{control}", elem, ["N", 1]))
        nodes.append(helper.make_node("Identity", [control], [f"OUT_{control}"]))
    model = graph(nodes, ins, outs, name)
    config = mc.ModelConfig(name=name, backend="onnxruntime", max_batch_size=4)
    if strategy == "oldest":
        config.sequence_batching.oldest.max_candidate_sequences = 8
        config.sequence_batching.oldest.max_queue_delay_microseconds = 2000
    else:
        config.sequence_batching.direct.max_queue_delay_microseconds = 2000
    for control, kind in CONTROL_KINDS.items():
        config.sequence_batching.control_input.append(
            _control(control, kind, corrid_type if control == "CORRID" else flag_type)
        )
    config.input.add(**io("INPUT", "TYPE_INT32", [1]))
    config.output.add(**io("OUTPUT", "TYPE_INT32", [1]))
    for control in CONTROL_KINDS:
        data_type = corrid_type if control == "CORRID" else flag_type
        config.output.add(**io(f"OUT_{control}", data_type, [1]))
    config.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU, count=1)
    return config, model


def accumulator(name: str, strategy: str, initial: int | None) -> tuple[mc.ModelConfig, onnx.ModelProto]:
    """Implicit state: OUTPUT = ACC_OUT = ACC_IN + INPUT; the state starts at 0 or at ``initial``."""
    ins = [tensor("INPUT", INT32, ["N", 1]), tensor("ACC_IN", INT32, ["N", 1])]
    outs = [tensor("OUTPUT", INT32, ["N", 1]), tensor("ACC_OUT", INT32, ["N", 1])]
    nodes = [
        helper.make_node("Add", ["ACC_IN", "INPUT"], ["sum"]),
        helper.make_node("Identity", ["sum"], ["OUTPUT"]),
        helper.make_node("Identity", ["sum"], ["ACC_OUT"]),
    ]
    model = graph(nodes, ins, outs, name)
    config = mc.ModelConfig(name=name, backend="onnxruntime", max_batch_size=8)
    batching = config.sequence_batching
    if strategy == "oldest":
        batching.oldest.max_candidate_sequences = 16
        batching.oldest.max_queue_delay_microseconds = 5000
    else:
        batching.direct.max_queue_delay_microseconds = 5000
    state = batching.state.add(input_name="ACC_IN", output_name="ACC_OUT", dims=[1])
    state.data_type = mc.TYPE_INT32
    start = state.initial_state.add(data_type=mc.TYPE_INT32, dims=[1], name="initial")
    if initial is None:
        start.zero_data = True
    else:
        start.data_file = "initial_acc"  # <model>/initial_state/initial_acc, raw little-endian
    config.input.add(**io("INPUT", "TYPE_INT32", [1]))
    config.output.add(**io("OUTPUT", "TYPE_INT32", [1]))
    config.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU, count=1)
    return config, model


def all_types() -> onnx.ModelProto:
    """IN_<TYPE> -> OUT_<TYPE>, identity, one pair per numeric type, [N, 3]."""
    ins = [tensor(f"IN_{n}", elem, ["N", 3]) for n, (elem, _) in NUMERIC_TYPES.items()]
    outs = [tensor(f"OUT_{n}", elem, ["N", 3]) for n, (elem, _) in NUMERIC_TYPES.items()]
    nodes = [helper.make_node("Identity", [f"IN_{n}"], [f"OUT_{n}"]) for n in NUMERIC_TYPES]
    return graph(nodes, ins, outs, "all_types")


def scale(factor: float, features: int = 4, batch: bool = True) -> onnx.ModelProto:
    """y = x * factor, FP32 [N, features] (or [1, features] without a batch dim)."""
    first: int | str = "N" if batch else 1
    return graph(
        [helper.make_node("Mul", ["x", "k"], ["y"])],
        [tensor("x", TensorProto.FLOAT, [first, features])],
        [tensor("y", TensorProto.FLOAT, [first, features])],
        "scale",
        [helper.make_tensor("k", TensorProto.FLOAT, [], [factor])],
    )
