"""Sequence batching: NVIDIA's simple_sequence (direct) and simple_dyna_sequence (oldest) rebuilt,
every kind of control input, and implicit state, over a gRPC stream as NVIDIA's sequence clients
use it, with sequences interleaved so batches mix them (and the direct strategy fills empty slots)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from modelserve.serve.server import EmbeddedTriton
from tests.conformance.repository import CONTROL_VARIANTS, INITIAL_ACC, control_model

pytestmark = pytest.mark.integration
VALUES = [11, 7, 5, 3, 2, 0, 1]  # the values NVIDIA's sequence examples send


def run_sequences(
    triton: EmbeddedTriton, model: str, sequences: Mapping[int | str, Sequence[int]], output: str = "OUTPUT"
) -> dict[int | str, list[np.ndarray]]:
    """Send every sequence over one stream, interleaved step by step; each answer to its request."""
    answers: queue.Queue[tuple[grpcclient.InferResult | None, InferenceServerException | None]] = (
        queue.Queue()
    )
    sent = 0
    with grpcclient.InferenceServerClient(triton.endpoints.grpc_url) as client:
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        try:
            for step in range(max(len(v) for v in sequences.values())):
                for corrid, values in sequences.items():
                    if step >= len(values):
                        continue
                    tensor = grpcclient.InferInput("INPUT", [1, 1], "INT32")
                    tensor.set_data_from_numpy(np.array([[values[step]]], dtype=np.int32))
                    client.async_stream_infer(
                        model,
                        [tensor],
                        request_id=f"{corrid}/{step}",
                        sequence_id=corrid,
                        sequence_start=step == 0,
                        sequence_end=step == len(values) - 1,
                    )
                    sent += 1
            results = [answers.get(timeout=60) for _ in range(sent)]
        finally:
            client.stop_stream()
    out: dict[int | str, dict[int, np.ndarray]] = {corrid: {} for corrid in sequences}
    for result, error in results:
        if error is not None:
            raise error
        assert result is not None
        corrid_text, step = result.get_response().id.split("/")
        corrid = next(c for c in sequences if str(c) == corrid_text)
        out[corrid][int(step)] = result.as_numpy(output)
    return {corrid: [steps[i] for i in range(len(steps))] for corrid, steps in out.items()}


def _scalars(arrays: list[np.ndarray]) -> list[object]:
    return [a.ravel()[0].item() for a in arrays]


def test_simple_sequence_adds_start_to_the_first_value_of_each_sequence(triton):
    out = run_sequences(triton, "simple_sequence", {1000: VALUES, 1001: [-v for v in VALUES]})
    assert _scalars(out[1000]) == [12, 7, 5, 3, 2, 0, 1]
    assert _scalars(out[1001]) == [-10, -7, -5, -3, -2, 0, -1]


def test_simple_dyna_sequence_adds_the_correlation_id_at_the_end(triton):
    out = run_sequences(triton, "simple_dyna_sequence", {1000: VALUES, 1001: [-v for v in VALUES]})
    assert _scalars(out[1000]) == [12, 7, 5, 3, 2, 0, 1 + 1000]
    assert _scalars(out[1001]) == [-10, -7, -5, -3, -2, 0, -1 + 1001]


NUMERIC_VARIANTS = [v for v in CONTROL_VARIANTS if v[1] != "TYPE_STRING"]


@pytest.mark.parametrize(("flag_type", "corrid_type", "strategy"), NUMERIC_VARIANTS)
def test_every_control_kind_reaches_the_model_with_its_configured_values(
    triton, flag_type, corrid_type, strategy
):
    model = control_model(flag_type, corrid_type, strategy)
    got = {
        control: run_sequences(triton, model, {77: [1, 2, 3], 78: [4]}, output=f"OUT_{control}")
        for control in ("START", "END", "READY", "CORRID")
    }
    as_flags: Callable[[int], object] = {"TYPE_FP32": float, "TYPE_BOOL": bool, "TYPE_INT32": int}[flag_type]
    assert _scalars(got["START"][77]) == [as_flags(1), as_flags(0), as_flags(0)]
    assert _scalars(got["END"][77]) == [as_flags(0), as_flags(0), as_flags(1)]
    assert _scalars(got["READY"][77]) == [as_flags(1)] * 3
    assert _scalars(got["CORRID"][77]) == [77, 77, 77]
    assert got["CORRID"][77][0].dtype == np.dtype(corrid_type[5:].lower())
    # A one-request sequence is both start and end.
    assert (_scalars(got["START"][78]), _scalars(got["END"][78]), _scalars(got["CORRID"][78])) == (
        [as_flags(1)],
        [as_flags(1)],
        [78],
    )


def test_a_string_correlation_id_fails_as_in_triton_2_51(triton):
    """Triton 2.51's core pads a string CORRID control to 132 bytes, which every backend's string
    check refuses (NGC's ONNX Runtime backend included); fixed in later cores (core PR #425)."""
    model = control_model(*next(v for v in CONTROL_VARIANTS if v[1] == "TYPE_STRING"))
    tensor = httpclient.InferInput("INPUT", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.array([[1]], dtype=np.int32))
    refusal = "unexpected number of string elements 2 for inference input 'CORRID', expecting 1"
    with (
        httpclient.InferenceServerClient(triton.endpoints.http_url) as client,
        pytest.raises(InferenceServerException, match=refusal),
    ):
        client.infer(model, [tensor], sequence_id="session-a", sequence_start=True, sequence_end=True)


@pytest.mark.parametrize(("model", "start"), [("acc_direct", 0), ("acc_oldest", INITIAL_ACC)])
def test_implicit_state_accumulates_per_sequence_from_its_initial_state(triton, model, start):
    rng = np.random.default_rng(7)
    # Sequences of different lengths, interleaved: batches mix sequences, and once the short ones
    # end the direct strategy runs batches with empty (not-ready) slots.
    sequences: dict[int | str, list[int]] = {
        corrid: rng.integers(-50, 50, size=length).tolist()
        for corrid, length in zip(range(501, 507), (1, 3, 8, 2, 8, 5), strict=True)
    }
    out = run_sequences(triton, model, sequences)
    for corrid, values in sequences.items():
        assert _scalars(out[corrid]) == (start + np.cumsum(values)).tolist(), corrid


def test_a_new_start_resets_the_state_of_a_reused_correlation_id(triton):
    first = run_sequences(triton, "acc_direct", {900: [5, 5, 5]})
    again = run_sequences(triton, "acc_direct", {900: [1, 1]})
    assert _scalars(first[900]) == [5, 10, 15] and _scalars(again[900]) == [1, 2]


def test_a_request_without_start_for_an_unknown_sequence_is_refused_by_triton(triton):
    tensor = httpclient.InferInput("INPUT", [1, 1], "INT32")
    tensor.set_data_from_numpy(np.array([[1]], dtype=np.int32))
    with (
        httpclient.InferenceServerClient(triton.endpoints.http_url) as client,
        pytest.raises(InferenceServerException, match="must specify the START flag"),
    ):
        client.infer("acc_oldest", [tensor], sequence_id=4242)
