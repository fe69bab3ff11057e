from __future__ import annotations

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from modelserve.repository.config import build_config, config_to_text, read_config
from modelserve.repository.errors import ConfigValidationError, UnknownParameterError
from modelserve.repository.spec import (
    DynamicBatching,
    InstanceGroup,
    ModelEntry,
    TensorConfig,
    VersionPolicy,
    check_model_name,
)


def _entry(**overrides: object) -> ModelEntry:
    fields: dict[str, object] = {
        "name": "m",
        "max_batch_size": 8,
        "inputs": (TensorConfig(name="x", data_type="fp32", dims=(4,)),),
        "outputs": (TensorConfig(name="y", data_type="FP32", dims=(4,)),),
    }
    fields.update(overrides)
    return ModelEntry(**fields)  # type: ignore[arg-type]


def test_tensor_config_accepts_short_type_names_and_normalises_them():
    assert TensorConfig(name="x", data_type="fp16", dims=(3,)).data_type == "TYPE_FP16"


def test_tensor_config_rejects_unknown_type_naming_the_choices():
    with pytest.raises(ConfigValidationError, match="FLOAT128.*TYPE_FP32"):
        TensorConfig(name="x", data_type="FLOAT128", dims=(3,))


@pytest.mark.parametrize("dims", [(0,), (-2,), (3, 0)])
def test_tensor_config_rejects_zero_or_negative_dims(dims):
    with pytest.raises(ConfigValidationError, match="dims"):
        TensorConfig(name="x", data_type="FP32", dims=dims)


def test_dynamic_batching_needs_a_batching_model():
    with pytest.raises(ConfigValidationError, match="dynamic batching needs max_batch_size"):
        _entry(max_batch_size=0, dynamic_batching=DynamicBatching())


def test_preferred_batch_size_above_max_is_refused():
    with pytest.raises(ConfigValidationError, match=r"\[16\] exceed max_batch_size 8"):
        _entry(dynamic_batching=DynamicBatching(preferred_batch_sizes=(4, 16)))


def test_gpus_only_for_gpu_instance_groups():
    with pytest.raises(ConfigValidationError, match="gpus"):
        InstanceGroup(kind="KIND_CPU", gpus=(0,))


def test_model_name_with_slash_is_refused():
    with pytest.raises(ConfigValidationError, match="model name"):
        _entry(name="a/b")


def test_build_config_sets_every_supported_field_and_round_trips_through_text(tmp_path):
    entry = _entry(
        outputs=(
            TensorConfig(name="label", data_type="INT64", dims=(1,), reshape=()),
            TensorConfig(name="y", data_type="FP32", dims=(4,), label_filename="labels.txt"),
        ),
        dynamic_batching=DynamicBatching(preferred_batch_sizes=(4, 8), max_queue_delay_us=250),
        instance_groups=(
            InstanceGroup(kind="KIND_GPU", count=2, gpus=(0, 1)),
            InstanceGroup(kind="KIND_CPU"),
        ),
        version_policy=VersionPolicy(kind="specific", versions=(1, 3)),
        warmup_batch_sizes=(1, 8),
        parameters={"intra_op_thread_count": "2"},
        tensorrt_fp16=True,
    )
    config = build_config(entry)
    assert config.backend == "onnxruntime"
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.dynamic_batching.max_queue_delay_microseconds == 250
    assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
    assert list(config.instance_group[0].gpus) == [0, 1]
    assert list(config.version_policy.specific.versions) == [1, 3]
    assert [w.batch_size for w in config.model_warmup] == [1, 8]
    assert config.model_warmup[0].inputs["x"].random_data
    assert config.parameters["intra_op_thread_count"].string_value == "2"
    accel = config.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accel.name == "tensorrt" and accel.parameters["precision_mode"] == "FP16"
    assert config.output[0].HasField("reshape") and list(config.output[0].reshape.shape) == []
    assert config.output[1].label_filename == "labels.txt"

    path = tmp_path / "config.pbtxt"
    path.write_text(config_to_text(config))
    assert read_config(path) == config
    assert text_format.Parse(path.read_text(), mc.ModelConfig()) == config


def test_version_policy_all_and_latest_are_written():
    assert build_config(_entry(version_policy=VersionPolicy(kind="all"))).version_policy.HasField("all")
    latest = build_config(_entry(version_policy=VersionPolicy(kind="latest", num_versions=2)))
    assert latest.version_policy.latest.num_versions == 2


def test_warmup_refuses_variable_dims():
    entry = _entry(inputs=(TensorConfig(name="x", data_type="FP32", dims=(-1,)),), warmup_batch_sizes=(1,))
    with pytest.raises(ConfigValidationError, match="variable dims"):
        build_config(entry)


def test_read_config_names_the_file_on_syntax_error(tmp_path):
    path = tmp_path / "config.pbtxt"
    path.write_text("name: 'x' max_batch_size: banana")
    with pytest.raises(ConfigValidationError, match=str(path)):
        read_config(path)


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "", "x" * 256, "sp ace"])
def test_model_names_that_are_not_plain_folder_names_are_refused(name):
    with pytest.raises(ConfigValidationError, match="model name"):
        check_model_name(name)
    assert check_model_name("iris_rf-2.onnx") == "iris_rf-2.onnx"


def test_export_checks_the_name_and_version_before_reading_any_data(tmp_path):
    from typer.testing import CliRunner

    from modelserve.cli.export import app

    missing = str(tmp_path / "no-such.csv")  # reading it would fail: the name check comes first
    bad_name = CliRunner().invoke(app, ["tabular", missing, "-t", "y", "-n", ".."])
    assert bad_name.exit_code == 1 and "error: model name '..'" in bad_name.output
    assert "no-such.csv" not in bad_name.output
    bad_version = CliRunner().invoke(app, ["tabular", missing, "-t", "y", "-n", "ok", "--version", "0"])
    assert bad_version.exit_code == 2 and "--version" in bad_version.output


def test_a_backend_parameter_the_backend_does_not_know_is_refused_at_export():
    with pytest.raises(UnknownParameterError, match=r"'intra_op_threads'.*knows .*intra_op_thread_count"):
        ModelEntry(name="m", inputs=(_t("x"),), outputs=(_t("y"),), parameters={"intra_op_threads": "2"})
    with pytest.raises(UnknownParameterError, match="enable_mem_arena.*1/0"):
        ModelEntry(name="m", inputs=(_t("x"),), outputs=(_t("y"),), parameters={"enable_mem_arena": "yes"})
    ok = ModelEntry(name="m", inputs=(_t("x"),), outputs=(_t("y"),), parameters={"allow_spinning": "1"})
    assert dict(ok.parameters) == {"allow_spinning": "1"}


def _t(name: str) -> TensorConfig:
    return TensorConfig(name=name, data_type="FP32", dims=(4,))
