"""The conformance suite's model repository: every model the suite serves, written in one place."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from tritonclient.grpc import model_config_pb2 as mc

from tests.conformance import models as m

PYTHON_MODELS = Path(__file__).parent / "python_models"
INITIAL_ACC = 100  # the data_file initial state of the 'oldest' accumulator
CACHE_CONFIG = ("local,size=1048576",)
# Every kind of sequence control: START/END/READY as FP32, BOOL or INT32, CORRID of every type.
CONTROL_VARIANTS = (
    ("TYPE_FP32", "TYPE_INT64", "direct"),
    ("TYPE_BOOL", "TYPE_UINT64", "oldest"),
    ("TYPE_INT32", "TYPE_UINT32", "oldest"),
    ("TYPE_INT32", "TYPE_INT32", "direct"),
    ("TYPE_INT32", "TYPE_STRING", "oldest"),
)


def control_model(flag_type: str, corrid_type: str, strategy: str) -> str:
    return f"controls_{flag_type[5:].lower()}_{corrid_type[5:].lower()}_{strategy}"


# Models whose config contradicts the graph, and the words of Triton's refusal for each.
MISMATCHES: dict[str, str] = {
    "bad_output_name": "unexpected inference output 'SUM', allowed outputs are: OUTPUT0, OUTPUT1",
    "bad_output_dims": (
        "model 'bad_output_dims', tensor 'OUTPUT0': the model expects 2 dimensions (shape [-1,16]) "
        "but the model configuration specifies 2 dimensions (an initial batch dimension because "
        "max_batch_size > 0 followed by the explicit tensor shape, making complete shape [-1,8])"
    ),
    "bad_dtype": (
        "unable to load model 'bad_dtype', configuration expects datatype TYPE_FP32 for input "
        "'INPUT0', model provides TYPE_INT32"
    ),
    "bad_no_batch_dim": (
        "model 'bad_no_batch_dim', tensor 'x': for the model to support batching the shape should "
        "have at least 1 dimension and the first dimension must be -1; but shape expected by the "
        "model is [1,4]"
    ),
    "bad_input_count": (
        "unable to load model 'bad_input_count', configuration expects 1 inputs, model provides 2"
    ),
    "bad_control": "configuration specified sequence control 'BEGIN', but model does not provide that input",
    "bad_autofill": (
        "autofill failed for model 'bad_autofill': model does not support batching while non-zero "
        "max_batch_size is specified"
    ),
    # Stricter than NGC's backend, which ignores a key it does not know (docs/triton-conformance.md).
    "bad_parameter": (
        "unknown backend parameter 'intra_op_threads'; the ONNX Runtime backend knows "
        "allow_spinning, arena_extend_strategy, cudnn_conv_algo_search"
    ),
}


def _python_model(root: Path, config: mc.ModelConfig, source: str) -> None:
    folder = m.write(root, config)
    shutil.copyfile(PYTHON_MODELS / source, folder / "1" / "model.py")


def _examples(root: Path) -> None:
    m.write(root, m.config_for("simple", m.simple(), 8), m.simple())
    m.write(root, m.config_for("simple_string", m.simple_string(), 8), m.simple_string())
    m.write(root, *m.simple_sequence())
    m.write(root, *m.simple_dyna_sequence())
    add_sub = mc.ModelConfig(name="add_sub", backend="python")
    for name in ("INPUT0", "INPUT1"):
        add_sub.input.add(**m.io(name, "TYPE_FP32", [4]))
    for name in ("OUTPUT0", "OUTPUT1"):
        add_sub.output.add(**m.io(name, "TYPE_FP32", [4]))
    add_sub.instance_group.add(kind=mc.ModelInstanceGroup.KIND_CPU)
    _python_model(root, add_sub, "add_sub.py")


def _python_models(root: Path) -> None:
    echo = mc.ModelConfig(name="bytes_echo", backend="python", max_batch_size=8)
    echo.input.add(**m.io("TEXT", "TYPE_STRING", [-1]))
    echo.output.add(**m.io("ECHO", "TYPE_STRING", [-1]))
    echo.output.add(**m.io("LENGTH", "TYPE_INT32", [-1]))
    _python_model(root, echo, "bytes_echo.py")
    _python_model(root, mc.ModelConfig(name="self_described", backend="python"), "self_described.py")
    bls = mc.ModelConfig(name="bls_simple", backend="python", max_batch_size=8)
    for name in ("INPUT0", "INPUT1"):
        bls.input.add(**m.io(name, "TYPE_INT32", [16]))
    bls.output.add(**m.io("PLUS_ONE", "TYPE_INT32", [16]))
    _python_model(root, bls, "bls_simple.py")
    refuses = mc.ModelConfig(name="refuses_negative", backend="python", max_batch_size=8)
    refuses.input.add(**m.io("X", "TYPE_INT32", [2]))
    refuses.output.add(**m.io("Y", "TYPE_FP32", [2]))
    _python_model(root, refuses, "refuses_negative.py")
    countdown = mc.ModelConfig(name="countdown", backend="python")
    countdown.model_transaction_policy.decoupled = True
    countdown.input.add(**m.io("COUNT", "TYPE_INT32", [1]))
    countdown.output.add(**m.io("LEFT", "TYPE_INT32", [1]))
    _python_model(root, countdown, "countdown.py")


def _sequences(root: Path) -> None:
    for flag_type, corrid_type, strategy in CONTROL_VARIANTS:
        name = control_model(flag_type, corrid_type, strategy)
        m.write(root, *m.control_echo(name, flag_type, corrid_type, strategy))
    m.write(root, *m.accumulator("acc_direct", "direct", None))
    folder = m.write(root, *m.accumulator("acc_oldest", "oldest", INITIAL_ACC))
    (folder / "initial_state").mkdir()
    (folder / "initial_state" / "initial_acc").write_bytes(np.array([INITIAL_ACC], "<i4").tobytes())


def _auto_complete(root: Path) -> None:
    m.write(root, None, m.scale(2.0), name="auto_bare")  # no config.pbtxt at all
    m.write(
        root,
        mc.ModelConfig(name="auto_partial", platform="onnxruntime_onnx", max_batch_size=16),
        m.scale(3.0),
    )
    m.write(root, None, m.scale(5.0, batch=False), name="auto_unbatched")
    m.write(
        root,
        mc.ModelConfig(name="bad_autofill", backend="onnxruntime", max_batch_size=4),
        m.scale(1.0, batch=False),
    )


def _mismatches(root: Path) -> None:
    for name, change in (
        ("bad_output_name", lambda c: setattr(c.output[0], "name", "SUM")),
        ("bad_output_dims", lambda c: c.output[0].dims.__setitem__(0, 8)),
        ("bad_dtype", lambda c: setattr(c.input[0], "data_type", mc.TYPE_FP32)),
        ("bad_input_count", lambda c: c.input.pop()),
        ("bad_parameter", lambda c: c.parameters["intra_op_threads"].__setattr__("string_value", "1")),
    ):
        config = m.config_for(name, m.simple(), 8)
        change(config)
        m.write(root, config, m.simple())
    m.write(root, m.config_for("bad_no_batch_dim", m.scale(1.0, batch=False), 8), m.scale(1.0, batch=False))
    config, model = m.simple_sequence()
    config.name = "bad_control"
    config.sequence_batching.control_input[0].name = "BEGIN"
    m.write(root, config, model)


def build(root: Path) -> None:
    _examples(root)
    _python_models(root)
    _sequences(root)
    _auto_complete(root)
    _mismatches(root)
    m.write(root, m.config_for("all_types", m.all_types(), 8), m.all_types())
    cached = m.config_for("cached_simple", m.simple(), 8)
    cached.response_cache.enable = True
    m.write(root, cached, m.simple())
    scale = m.config_for("scale", m.scale(2.0), 8)
    m.write(root, scale, m.scale(2.0))
    _ensemble(root)


def _ensemble(root: Path) -> None:
    """An ONNX step into a Python step: RESULT = bls_simple(simple(INPUT0, INPUT1).OUTPUT0, ZEROS),
    which is INPUT0 + INPUT1 + 1."""
    config = mc.ModelConfig(name="ensemble_sum_plus_one", platform="ensemble", max_batch_size=8)
    for name in ("INPUT0", "INPUT1", "ZEROS"):
        config.input.add(**m.io(name, "TYPE_INT32", [16]))
    config.output.add(**m.io("RESULT", "TYPE_INT32", [16]))
    first = config.ensemble_scheduling.step.add(model_name="simple", model_version=-1)
    first.input_map["INPUT0"] = "INPUT0"
    first.input_map["INPUT1"] = "INPUT1"
    first.output_map["OUTPUT0"] = "sum"
    second = config.ensemble_scheduling.step.add(model_name="bls_simple", model_version=-1)
    second.input_map["INPUT0"] = "sum"
    second.input_map["INPUT1"] = "ZEROS"
    second.output_map["PLUS_ONE"] = "RESULT"
    (root / config.name / "1").mkdir(parents=True, exist_ok=True)
    m.write(root, config)
