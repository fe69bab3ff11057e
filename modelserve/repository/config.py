"""Build Triton's ModelConfig protobuf from a ModelEntry in small steps; write/read it as text.

Never a string template: ``text_format`` renders the message, and ``read_config`` parses it back.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.repository.atomic import write_atomic
from modelserve.repository.errors import ConfigValidationError
from modelserve.repository.spec import ModelEntry, TensorConfig

# What production (NGC) TensorRT settings look like; harmless on CPU, where our backend ignores them.
TENSORRT_WORKSPACE_BYTES = str(1 << 30)


def build_config(entry: ModelEntry) -> mc.ModelConfig:
    config = mc.ModelConfig(name=entry.name, backend=entry.backend, max_batch_size=entry.max_batch_size)
    config.default_model_filename = entry.default_model_filename
    _set_io(config, entry)
    _set_batching(config, entry)
    _set_instances(config, entry)
    _set_version_policy(config, entry)
    _set_warmup(config, entry)
    _set_parameters(config, entry)
    _set_accelerators(config, entry)
    return config


def _tensor_fields(tensor: TensorConfig) -> dict[str, object]:
    return {"name": tensor.name, "data_type": mc.DataType.Value(tensor.data_type), "dims": list(tensor.dims)}


def _set_io(config: mc.ModelConfig, entry: ModelEntry) -> None:
    for tensor in entry.inputs:
        model_input = config.input.add(**_tensor_fields(tensor))
        if tensor.reshape is not None:
            model_input.reshape.shape.extend(tensor.reshape)
        if tensor.label_filename:
            raise ConfigValidationError(f"input '{tensor.name}' cannot have a label_filename")
    for tensor in entry.outputs:
        model_output = config.output.add(**_tensor_fields(tensor))
        if tensor.reshape is not None:
            model_output.reshape.shape.extend(tensor.reshape)
        if tensor.label_filename:
            model_output.label_filename = tensor.label_filename


def _set_batching(config: mc.ModelConfig, entry: ModelEntry) -> None:
    if entry.dynamic_batching is None:
        return
    config.dynamic_batching.preferred_batch_size.extend(entry.dynamic_batching.preferred_batch_sizes)
    config.dynamic_batching.max_queue_delay_microseconds = entry.dynamic_batching.max_queue_delay_us


def _set_instances(config: mc.ModelConfig, entry: ModelEntry) -> None:
    for group in entry.instance_groups:
        instance = config.instance_group.add(
            kind=mc.ModelInstanceGroup.Kind.Value(group.kind), count=group.count
        )
        instance.gpus.extend(group.gpus)


def _set_version_policy(config: mc.ModelConfig, entry: ModelEntry) -> None:
    policy = entry.version_policy
    if policy.kind == "latest":
        config.version_policy.latest.num_versions = policy.num_versions
    elif policy.kind == "all":
        config.version_policy.all.SetInParent()
    else:
        config.version_policy.specific.versions.extend(policy.versions)


def _set_warmup(config: mc.ModelConfig, entry: ModelEntry) -> None:
    for size in entry.warmup_batch_sizes:
        warmup = config.model_warmup.add(
            name=f"random_batch_{size}", batch_size=size if entry.max_batch_size else 1
        )
        for tensor in entry.inputs:
            dims = tensor.dims
            if any(d < 0 for d in dims):
                raise ConfigValidationError(
                    f"cannot warm up input '{tensor.name}' with variable dims {list(dims)}; give fixed dims"
                )
            warmup.inputs[tensor.name].data_type = mc.DataType.Value(tensor.data_type)
            warmup.inputs[tensor.name].dims.extend(dims)
            warmup.inputs[tensor.name].random_data = True


def _set_parameters(config: mc.ModelConfig, entry: ModelEntry) -> None:
    for key, value in sorted(entry.parameters.items()):
        config.parameters[key].string_value = str(value)


def _set_accelerators(config: mc.ModelConfig, entry: ModelEntry) -> None:
    if not entry.tensorrt_fp16:
        return
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
    accelerator.parameters["precision_mode"] = "FP16"
    accelerator.parameters["max_workspace_size_bytes"] = TENSORRT_WORKSPACE_BYTES


def config_to_text(config: mc.ModelConfig) -> str:
    return str(text_format.MessageToString(config))


def config_to_json(config: mc.ModelConfig) -> str:
    """The form Triton's load API takes as a config override."""
    return str(json_format.MessageToJson(config, preserving_proto_field_name=True))


def write_config(path: Path, config: mc.ModelConfig) -> None:
    """config.pbtxt replaced atomically: Triton never reads half a file."""
    write_atomic(path, config_to_text(config).encode())


def read_config(path: Path) -> mc.ModelConfig:
    """Parse a config.pbtxt; a syntax error becomes a ConfigValidationError naming the file."""
    try:
        return text_format.Parse(path.read_text(), mc.ModelConfig())
    except text_format.ParseError as exc:
        raise ConfigValidationError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise ConfigValidationError(f"{path}: cannot read ({exc.strerror})") from exc
