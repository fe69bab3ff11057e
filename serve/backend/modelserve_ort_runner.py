"""A generic ONNX Runtime runner driven by a Triton model config (as the JSON Triton hands a backend).

This module runs inside Triton's Python backend stub, so it imports only numpy and onnxruntime: it
is copied beside ``model.py`` into ``<backend-dir>/onnxruntime/``. Nothing here knows about
``triton_python_backend_utils``, so it is unit-tested without a server.

Triton's dynamic batcher hands ``execute()`` several requests at once; ``run`` concatenates their
inputs on the batch axis, runs the session once and splits the outputs back. On GPU instances the
batch is padded up to a small fixed set of sizes that are all warmed at load, so ONNX Runtime never
meets a new shape (and its per-shape allocation and cuDNN algorithm search) under load.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

try:  # imported as modelserve.serve.backend.* (tests, benchmarks)
    from .modelserve_host_staging import HostStaging
    from .modelserve_runner_settings import (
        TRITON_TO_NUMPY,
        RunnerError,
        RunnerSettings,
        TensorSpec,
        batch_buckets,
        bucket_for,
    )
except ImportError:  # inside the stub, beside model.py
    from modelserve_host_staging import HostStaging  # type: ignore[no-redef]
    from modelserve_runner_settings import (  # type: ignore[no-redef]
        TRITON_TO_NUMPY,
        RunnerError,
        RunnerSettings,
        TensorSpec,
        batch_buckets,
        bucket_for,
    )

logger = logging.getLogger(__name__)

_GRAPH_LEVELS = {
    -1: ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    0: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    1: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
}


class OrtRunner:
    """One ONNX Runtime session serving batches of Triton requests."""

    def __init__(self, model_path: str, settings: RunnerSettings) -> None:
        if not os.path.isfile(model_path):
            raise RunnerError(f"model file not found: {model_path}")
        self.settings = settings
        self.session = ort.InferenceSession(
            model_path, sess_options=self._session_options(), providers=self._providers()
        )
        self._onnx_inputs = {i.name: i for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]
        # Whether the config matches the graph is checked by model.py (modelserve_signature), in
        # Triton's words; a request naming an input the graph lacks fails in ONNX Runtime.
        self.input_specs = {s.name: s for s in settings.inputs}
        self.output_specs = {s.name: s for s in settings.outputs}
        self.sessions = self._bucket_sessions(model_path)
        if self.sessions:  # every run is at a bucket size: the dynamic session is not needed
            self.session = self.sessions[max(self.sessions)]
        self.staging = self._make_staging()
        logger.info("loaded %s with providers %s", model_path, self.session.get_providers())

    def _bucket_sessions(self, model_path: str) -> dict[int, Any]:
        """One session per bucket, the batch dimension fixed by name.

        Why: ONNX Runtime's CUDA convolutions rebuild their cuDNN state whenever the input shape
        differs from the previous run's, even for shapes seen before. Measured on an H200 (ORT
        1.31.1, ResNet50): batch sizes alternating within 1..16 cost 94 ms a run against 2-4 ms at
        a fixed size, and Triton's dynamic batcher alternates sizes all the time. A session that
        only ever sees one shape never pays it. The cost is one copy of the weights per bucket.
        """
        if not self.settings.session_per_bucket:
            return {}
        names = set()
        for graph_input in self.session.get_inputs():
            dim = graph_input.shape[0] if graph_input.shape else None
            if not isinstance(dim, str) or not dim:
                logger.info("batch dim of '%s' has no name; sharing one dynamic session", graph_input.name)
                return {}
            names.add(dim)
        sessions = {}
        for size in self.settings.buckets:
            options = self._session_options()
            for name in names:
                options.add_free_dimension_override_by_name(name, size)
            sessions[size] = ort.InferenceSession(
                model_path, sess_options=options, providers=self._providers()
            )
        return sessions

    def _make_staging(self) -> HostStaging | None:
        s = self.settings
        if not s.host_staging:
            return None
        shapes = {}
        for name in self._onnx_inputs:
            spec = self.input_specs.get(name)
            if spec is None or spec.dtype is np.object_:
                return None  # strings have no fixed-size buffer
            dims = spec.reshape if spec.reshape is not None else spec.dims
            if any(d < 0 for d in dims):
                return None  # variable dims: nothing fixed to stage into
            shapes[name] = (dims, spec.dtype)
        return HostStaging(shapes, s.buckets, pin=s.use_gpu)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def _session_options(self) -> ort.SessionOptions:
        s = self.settings
        opts = ort.SessionOptions()
        if s.intra_op_threads:
            opts.intra_op_num_threads = s.intra_op_threads
        if s.inter_op_threads:
            opts.inter_op_num_threads = s.inter_op_threads
        if s.parallel_execution:
            opts.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        opts.enable_cpu_mem_arena = s.enable_mem_arena
        opts.enable_mem_pattern = s.enable_mem_pattern
        # Idle intra-op threads spin by default: lower latency on dedicated cores, burnt CPU on a
        # box shared with the API and other models.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if s.allow_spinning else "0")
        if s.device_allocator_for_initializers:
            opts.add_session_config_entry("session.use_device_allocator_for_initializers", "1")
        if s.graph_level is not None:
            opts.graph_optimization_level = _GRAPH_LEVELS.get(
                s.graph_level, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            )
        return opts

    def _providers(self) -> list[Any]:
        s = self.settings
        available = ort.get_available_providers()
        if not s.use_gpu:
            return ["CPUExecutionProvider"]
        if hasattr(ort, "preload_dlls"):
            # onnxruntime-gpu finds CUDA and cuDNN in the nvidia-* wheels (torch's) only when asked;
            # the stub's LD_LIBRARY_PATH holds the Triton wheel's libraries, not those.
            ort.preload_dlls()
        if "CUDAExecutionProvider" not in available:
            raise RunnerError(
                "KIND_GPU instance but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {available}); install onnxruntime-gpu or use KIND_CPU"
            )
        providers: list[Any] = []
        if s.tensorrt:
            if "TensorrtExecutionProvider" in available:
                providers.append(
                    (
                        "TensorrtExecutionProvider",
                        {"device_id": s.device_id, "trt_fp16_enable": s.tensorrt_fp16},
                    )
                )
            else:
                logger.warning("config asks for TensorRT but onnxruntime lacks it; using CUDA")
        # Every bucket is warmed at load, so cuDNN's exhaustive search (ORT's default) runs then and
        # never under load; without buckets a new batch size would pay it mid-request.
        search = "EXHAUSTIVE" if s.pad_to_buckets else "HEURISTIC"
        cuda = {"device_id": s.device_id, "cudnn_conv_algo_search": search, **s.cuda_options}
        providers.append(("CUDAExecutionProvider", cuda))
        providers.append("CPUExecutionProvider")
        return providers

    def warm_up(self) -> list[int]:
        """Run every batch bucket once so no shape is new under load; returns the sizes warmed."""
        if not self.settings.pad_to_buckets:
            return []
        for size in self.settings.buckets:
            feed = {name: self._zeros(name, size) for name in self._onnx_inputs}
            self.sessions.get(size, self.session).run(None, feed)
        return list(self.settings.buckets)

    def _zeros(self, name: str, batch: int) -> np.ndarray:
        spec = self.input_specs.get(name)
        if spec is None:
            raise RunnerError(f"cannot warm up: input '{name}' is not in the config")
        dims = spec.reshape if spec.reshape is not None else spec.dims
        if any(d < 0 for d in dims):
            raise RunnerError(f"cannot warm up input '{name}' with variable dims {list(dims)}")
        return np.zeros((batch, *dims), dtype=spec.dtype)

    def _prepare(self, name: str, array: np.ndarray) -> np.ndarray:
        spec = self.input_specs.get(name)
        if spec is None:
            raise RunnerError(f"unexpected input '{name}'")
        if spec.reshape is not None:
            lead = (array.shape[0],) if self.settings.max_batch_size > 0 else ()
            array = array.reshape(*lead, *spec.reshape)
        return array

    def run_one(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._run_feed({name: self._prepare(name, arr) for name, arr in inputs.items()})

    def _run_feed(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = int(next(iter(feed.values())).shape[0]) if feed and self.settings.max_batch_size > 0 else 0
        session = self.sessions.get(rows, self.session)
        outputs = dict(zip(self.output_names, session.run(self.output_names, feed), strict=True))
        for name, spec in self.output_specs.items():
            # Config dims are what clients see; `reshape` gives the model's own shape (Triton semantics).
            if spec.reshape is not None and name in outputs:
                lead = (outputs[name].shape[0],) if self.settings.max_batch_size > 0 else ()
                outputs[name] = outputs[name].reshape(*lead, *spec.dims)
        return outputs

    def run(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray] | Exception]:
        """Serve several requests: one session run for all when they stack, else one each.

        A request that fails returns its exception in its slot; the others still get answers.
        """
        if len(requests) == 1 or self.settings.max_batch_size == 0:
            return [self._guarded(r) for r in requests]
        try:
            return list(self._pad_and_run(requests))
        except Exception as exc:  # shapes that do not stack, or one bad request: isolate it
            logger.debug("batched run failed (%s); running requests one by one", exc)
            return [self._guarded(r) for r in requests]

    def _guarded(self, request: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | Exception:
        try:
            if self.settings.max_batch_size == 0:
                return self.run_one(request)
            return self._pad_and_run([request])[0]
        except Exception as exc:
            return RunnerError(str(exc))

    def _pad_and_run(self, requests: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        names = list(requests[0])
        sizes = [int(next(iter(r.values())).shape[0]) if r else 0 for r in requests]
        total = sum(sizes)
        padded_to = bucket_for(total, self.settings.buckets) if self.settings.pad_to_buckets else total
        staged = self.staging.views(padded_to) if self.staging is not None else None
        if staged is not None and set(names) == set(staged):
            outputs = self._run_feed(self._stage(requests, staged, total))
        else:
            stacked = {
                name: (
                    requests[0][name] if len(requests) == 1 else np.concatenate([r[name] for r in requests])
                )
                for name in names
            }
            if padded_to > total:
                stacked = {n: _pad_rows(a, padded_to - total) for n, a in stacked.items()}
            outputs = self.run_one(stacked)
        bounds = np.cumsum([0, *sizes])
        return [
            {name: out[bounds[i] : bounds[i + 1]] for name, out in outputs.items()}
            for i in range(len(requests))
        ]

    def _stage(
        self, requests: Sequence[Mapping[str, np.ndarray]], staged: Mapping[str, np.ndarray], total: int
    ) -> dict[str, np.ndarray]:
        """Concatenate the requests straight into the staging buffers.

        Padding rows keep whatever an earlier run left there (zeros at first): rows are independent
        and their outputs are dropped, and clearing them would cost a memset of up to half the buffer.
        """
        for name, buffer in staged.items():
            # casting="no": a wrong dtype fails as it would in ONNX Runtime instead of being converted
            np.concatenate([self._prepare(name, r[name]) for r in requests], out=buffer[:total], casting="no")
        return dict(staged)


def _pad_rows(array: np.ndarray, extra: int) -> np.ndarray:
    pad = np.zeros((extra, *array.shape[1:]), dtype=array.dtype)
    return np.concatenate([array, pad])


__all__ = [
    "TRITON_TO_NUMPY",
    "OrtRunner",
    "RunnerError",
    "RunnerSettings",
    "TensorSpec",
    "batch_buckets",
    "bucket_for",
]
