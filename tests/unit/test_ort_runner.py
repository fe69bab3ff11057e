"""The backend's runner (pure logic, no Triton): batching, padding, isolation, config parsing."""

from __future__ import annotations

import numpy as np
import pytest

from modelserve.serve.backend.modelserve_ort_runner import (
    OrtRunner,
    RunnerError,
    RunnerSettings,
    batch_buckets,
    bucket_for,
)
from tests.helpers import save, scale_model

CONFIG = {
    "max_batch_size": 16,
    "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
    "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}],
}


def _runner(tmp_path, config=CONFIG, kind="CPU", factor=2.0):
    path = save(scale_model(factor), tmp_path / "1" / "model.onnx")
    return OrtRunner(str(path), RunnerSettings.from_triton(config, kind=kind, device_id=0))


def test_batched_requests_run_once_and_split_back_in_order(tmp_path):
    runner = _runner(tmp_path)
    requests = [{"x": np.full((n, 4), n, dtype=np.float32)} for n in (1, 3, 2)]
    results = runner.run(requests)
    for n, result in zip((1, 3, 2), results, strict=True):
        assert isinstance(result, dict)
        np.testing.assert_array_equal(result["y"], np.full((n, 4), 2.0 * n, dtype=np.float32))


def test_a_bad_request_fails_alone(tmp_path):
    runner = _runner(tmp_path)
    good = {"x": np.ones((2, 4), dtype=np.float32)}
    bad = {"x": np.ones((2, 5), dtype=np.float32)}  # does not stack, and the model refuses it
    results = runner.run([good, bad, good])
    assert isinstance(results[1], RunnerError)
    for i in (0, 2):
        assert isinstance(results[i], dict)
        np.testing.assert_array_equal(results[i]["y"], np.full((2, 4), 2.0, dtype=np.float32))


def test_padding_to_buckets_gives_the_same_answers(tmp_path):
    config = {**CONFIG, "parameters": {"pad_batch_to_buckets": {"string_value": "true"}}}
    runner = _runner(tmp_path, config)
    assert runner.settings.pad_to_buckets and runner.settings.buckets == (1, 2, 4, 8, 16)
    assert runner.warm_up() == [1, 2, 4, 8, 16]
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (result,) = runner.run([{"x": x}])
    assert isinstance(result, dict)
    assert result["y"].shape == (3, 4)
    np.testing.assert_array_equal(result["y"], x * 2)


def test_bucket_helpers():
    assert batch_buckets(12, (6,)) == (1, 2, 4, 6, 8, 12)
    assert batch_buckets(0) == ()
    assert bucket_for(5, (1, 2, 4, 8)) == 8
    assert bucket_for(9, (1, 2, 4, 8)) == 9


def test_output_reshape_presents_config_dims(tmp_path):
    config = {
        "max_batch_size": 8,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [2, 2], "reshape": {"shape": [4]}}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [2, 2], "reshape": {"shape": [4]}}],
    }
    runner = _runner(tmp_path, config)
    (result,) = runner.run([{"x": np.ones((3, 2, 2), dtype=np.float32)}])
    assert isinstance(result, dict) and result["y"].shape == (3, 2, 2)


def test_settings_read_triton_parameters_and_accelerators():
    config = {
        **CONFIG,
        "parameters": {
            "intra_op_thread_count": {"string_value": "3"},
            "execution_mode": {"string_value": "1"},
            "cudnn_conv_algo_search": {"string_value": "1"},
        },
        "optimization": {
            "execution_accelerators": {
                "gpu_execution_accelerator": [
                    {"name": "tensorrt", "parameters": {"precision_mode": "FP16"}},
                    {"name": "cuda", "parameters": {"arena_extend_strategy": "kSameAsRequested"}},
                ]
            },
            "graph": {"level": 1},
        },
        "dynamic_batching": {"preferred_batch_size": [6]},
    }
    s = RunnerSettings.from_triton(config, kind="KIND_GPU", device_id=2)
    assert s.use_gpu and s.device_id == 2 and s.intra_op_threads == 3 and s.parallel_execution
    assert s.tensorrt and s.tensorrt_fp16 and s.graph_level == 1
    assert s.cuda_options == {
        "arena_extend_strategy": "kSameAsRequested",
        "cudnn_conv_algo_search": "HEURISTIC",
    }
    assert s.pad_to_buckets and 6 in s.buckets
    assert s.host_staging and s.session_per_bucket  # GPU defaults (measured on an H200)
    assert not s.allow_spinning  # idle threads sleep on GPU instances too
    gpu_default = RunnerSettings.from_triton(CONFIG, kind="GPU", device_id=0)
    assert gpu_default.intra_op_threads == 1  # the CUDA EP launches from the calling thread
    cpu = RunnerSettings.from_triton(CONFIG, kind="CPU", device_id=0)
    assert not (cpu.pad_to_buckets or cpu.host_staging or cpu.session_per_bucket)
    assert not cpu.allow_spinning and cpu.intra_op_threads == 0  # CPU: ORT's own pool, sleeping
    spin = {**CONFIG, "parameters": {"allow_spinning": {"string_value": "1"}}}
    assert RunnerSettings.from_triton(spin, kind="CPU", device_id=0).allow_spinning


def test_gpu_instance_without_cuda_provider_fails_with_a_clear_message(tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(RunnerError, match="no CUDAExecutionProvider"):
        _runner(tmp_path, kind="GPU")


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(RunnerError, match="model file not found"):
        OrtRunner(str(tmp_path / "nope.onnx"), RunnerSettings.from_triton(CONFIG, kind="CPU", device_id=0))


BUCKETED = {
    **CONFIG,
    "parameters": {
        "pad_batch_to_buckets": {"string_value": "true"},
        "host_staging": {"string_value": "true"},
        "session_per_bucket": {"string_value": "true"},
    },
}


def test_session_per_bucket_fixes_the_batch_dim_and_answers_like_one_session(tmp_path):
    runner = _runner(tmp_path, BUCKETED)
    assert sorted(runner.sessions) == [1, 2, 4, 8, 16]
    for size, session in runner.sessions.items():
        assert session.get_inputs()[0].shape == [size, 4]  # "N" fixed: no shape change ever
    assert runner.warm_up() == [1, 2, 4, 8, 16]
    rng = np.random.default_rng(7)
    for sizes in ((1,), (3,), (2, 5, 1), (16,), (4, 4, 4, 4)):
        requests = [{"x": rng.standard_normal((n, 4), dtype=np.float32)} for n in sizes]
        for request, result in zip(requests, runner.run(requests), strict=True):
            assert isinstance(result, dict)
            np.testing.assert_array_equal(result["y"], request["x"] * 2)


def test_staged_batches_reuse_buffers_without_leaking_rows_between_runs(tmp_path):
    runner = _runner(tmp_path, BUCKETED)
    assert runner.staging is not None and runner.staging.sizes == (1, 2, 4, 8, 16)
    assert not runner.staging.pinned  # CPU instance: preallocated, not page-locked
    first = runner.run([{"x": np.full((7, 4), 9.0, dtype=np.float32)}])[0]
    second = runner.run([{"x": np.full((5, 4), 1.0, dtype=np.float32)}])[0]  # same bucket (8)
    assert isinstance(first, dict) and isinstance(second, dict)
    np.testing.assert_array_equal(first["y"], np.full((7, 4), 18.0))
    np.testing.assert_array_equal(second["y"], np.full((5, 4), 2.0))


def test_staged_batch_with_a_wrong_dtype_fails_alone(tmp_path):
    runner = _runner(tmp_path, BUCKETED)
    good = {"x": np.ones((2, 4), dtype=np.float32)}
    bad = {"x": np.ones((2, 4), dtype=np.float64)}  # would be cast silently by a plain concatenate
    results = runner.run([good, bad])
    assert isinstance(results[0], dict) and isinstance(results[1], RunnerError)


def test_unnamed_batch_dim_shares_one_dynamic_session(tmp_path):
    model = scale_model(2.0)
    model.graph.input[0].type.tensor_type.shape.dim[0].ClearField("dim_param")
    model.graph.output[0].type.tensor_type.shape.dim[0].ClearField("dim_param")
    path = save(model, tmp_path / "1" / "model.onnx")
    runner = OrtRunner(str(path), RunnerSettings.from_triton(BUCKETED, kind="CPU", device_id=0))
    assert runner.sessions == {}
    (result,) = runner.run([{"x": np.ones((3, 4), dtype=np.float32)}])
    assert isinstance(result, dict) and result["y"].shape == (3, 4)


def test_an_unknown_parameter_is_refused_with_the_known_ones():
    typo = {**CONFIG, "parameters": {"intra_op_threads": {"string_value": "2"}}}
    with pytest.raises(
        RunnerError, match=r"unknown backend parameter 'intra_op_threads'.*intra_op_thread_count"
    ):
        RunnerSettings.from_triton(typo, kind="CPU", device_id=0)
    wrong = {**CONFIG, "parameters": {"execution_mode": {"string_value": "parallel"}}}
    with pytest.raises(RunnerError, match="execution_mode.*choose one of 0, 1"):
        RunnerSettings.from_triton(wrong, kind="CPU", device_id=0)


def test_ngc_cuda_parameters_become_cuda_provider_options():
    params = {"gpu_mem_limit": "1024", "arena_extend_strategy": "1", "do_copy_in_default_stream": "0"}
    config = {**CONFIG, "parameters": {k: {"string_value": v} for k, v in params.items()}}
    s = RunnerSettings.from_triton(config, kind="KIND_GPU", device_id=0)
    assert s.cuda_options == {
        "gpu_mem_limit": "1024",
        "arena_extend_strategy": "kSameAsRequested",
        "do_copy_in_default_stream": "0",
    }
