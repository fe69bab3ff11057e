"""The sequence batcher's extra inputs and the per-sequence state store (modelserve_sequence.py)."""

from __future__ import annotations

import numpy as np

from modelserve.serve.backend.modelserve_sequence import FLAG_END, FLAG_START, SequenceSpec, StateStore

CONFIG = {
    "sequence_batching": {
        "max_sequence_idle_microseconds": "2000000",
        "control_input": [
            {"name": "S", "control": [{"kind": "CONTROL_SEQUENCE_START", "bool_false_true": [False, True]}]},
            {"name": "R", "control": [{"kind": "CONTROL_SEQUENCE_READY", "fp32_false_true": [0, 1]}]},
            {"name": "C", "control": [{"kind": "CONTROL_SEQUENCE_CORRID", "data_type": "TYPE_UINT64"}]},
        ],
        "state": [{"input_name": "H_IN", "output_name": "H_OUT", "data_type": "TYPE_FP32", "dims": ["2"]}],
    }
}


def test_spec_lists_every_tensor_the_batcher_adds_with_its_type():
    spec = SequenceSpec.from_config(CONFIG)
    assert spec is not None and spec.idle_s == 2.0
    assert spec.extra_inputs() == [
        ("S", "TYPE_BOOL", (1,)),
        ("R", "TYPE_FP32", (1,)),
        ("C", "TYPE_UINT64", (1,)),
        ("H_IN", "TYPE_FP32", (2,)),
    ]
    assert SequenceSpec.from_config({}) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(store: StateStore, corrid: int, flags: int, core_state: np.ndarray) -> np.ndarray:
    fed = store.feed(corrid, flags, {"H_IN": core_state, "X": np.ones((1, 2), np.float32)})
    out: np.ndarray = fed["H_IN"] + fed["X"]  # the model: state += 1
    store.keep(corrid, flags, {"H_OUT": out})
    return out


def test_state_starts_from_the_cores_initial_state_then_follows_the_model_until_end():
    spec = SequenceSpec.from_config(CONFIG)
    assert spec is not None
    store = StateStore(spec)
    initial = np.zeros((1, 2), np.float32)
    assert _run(store, 7, FLAG_START, initial).tolist() == [[1, 1]]
    assert _run(store, 7, 0, initial).tolist() == [[2, 2]]
    assert _run(store, 8, FLAG_START | FLAG_END, initial).tolist() == [[1, 1]]
    assert _run(store, 7, FLAG_END, initial).tolist() == [[3, 3]]
    assert len(store) == 0


def test_null_requests_neither_read_nor_write_state():
    spec = SequenceSpec.from_config(CONFIG)
    assert spec is not None
    store = StateStore(spec)
    _run(store, 7, FLAG_START, np.zeros((1, 2), np.float32))
    dummy = np.full((1, 2), -9, np.float32)
    assert _run(store, 0, 0, dummy).tolist() == [[-8, -8]]
    assert _run(store, 7, 0, dummy).tolist() == [[2, 2]]


def test_a_sequence_the_core_gave_up_on_is_forgotten_after_a_margin():
    spec = SequenceSpec.from_config(CONFIG)
    assert spec is not None
    clock = Clock()
    store = StateStore(spec, clock=clock)
    _run(store, 1, FLAG_START, np.zeros((1, 2), np.float32))
    clock.now = 5.0  # idle 2 s: the core ended it, but our margin (10 s) has not passed
    _run(store, 2, FLAG_START, np.zeros((1, 2), np.float32))
    assert len(store) == 2
    clock.now = 30.0
    _run(store, 3, FLAG_START, np.zeros((1, 2), np.float32))
    assert len(store) == 1
