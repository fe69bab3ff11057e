"""Sequence batching in our backend: the sequence batcher's control inputs, and implicit state.

Triton's sequence batcher (direct and oldest strategies alike) adds the configured control tensors
(START, END, READY, CORRID) and each state's input tensor to every request before a backend sees
it; Triton's ONNX Runtime backend feeds them to the graph like any other input. So does ours: the
names below join the config's inputs.

Implicit state also needs the backend to hand each output state back to Triton
(``TRITONBACKEND_StateUpdate``), which a Python backend cannot do, so the core would feed the
initial state forever. The backend keeps each sequence's state itself instead, keyed by correlation
ID: on a sequence's START request the core's tensor (the initial state: zeros or ``initial_state``),
after that the output state its previous request produced; dropped at END. A sequence the core
gave up on (idle past ``max_sequence_idle_microseconds``) is forgotten after a generous margin.
Null requests (the direct strategy's fillers for empty slots) carry correlation ID 0 and are left
alone. A sequence runs on one model instance, so each instance's store sees all of its requests.

Runs inside the Python-backend stub: numpy and the standard library only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # imported as serve.backend.* (tests)
    from .modelserve_signature import BOOLEAN_CONTROLS, TYPED_CONTROLS, control_tensor
except ImportError:  # inside the stub, beside model.py
    from modelserve_signature import (  # type: ignore[no-redef]
        BOOLEAN_CONTROLS,
        TYPED_CONTROLS,
        control_tensor,
    )

# TRITONSERVER_REQUEST_FLAG_SEQUENCE_START / _END (tritonserver.h)
FLAG_START = 1
FLAG_END = 2
_DEFAULT_IDLE_US = 1_000_000  # Triton's default max_sequence_idle_microseconds
_FORGET_AFTER_IDLES = 3  # the core's idle clock counts arrivals, ours executions: keep a margin
_FORGET_MIN_S = 10.0


@dataclass(frozen=True, kw_only=True)
class StateSpec:
    input_name: str
    output_name: str
    data_type: str
    dims: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class SequenceSpec:
    """What a config's ``sequence_batching`` adds to the inputs a request carries."""

    controls: tuple[tuple[str, str], ...]  # (tensor name, config data type)
    states: tuple[StateSpec, ...]
    idle_s: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SequenceSpec | None:
        sequence = config.get("sequence_batching")
        if sequence is None:
            return None
        controls = tuple(
            found
            for kind in (*BOOLEAN_CONTROLS, *TYPED_CONTROLS)
            if (found := control_tensor(sequence, kind)) is not None
        )
        states = tuple(
            StateSpec(
                input_name=str(s["input_name"]),
                output_name=str(s["output_name"]),
                data_type=str(s.get("data_type", "TYPE_INVALID")),
                dims=tuple(int(d) for d in s.get("dims", [])),
            )
            for s in sequence.get("state", []) or []
        )
        idle_us = int(sequence.get("max_sequence_idle_microseconds", 0) or 0) or _DEFAULT_IDLE_US
        return cls(controls=controls, states=states, idle_s=idle_us / 1e6)

    def extra_inputs(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(name, config data type, dims without the batch dim) of every tensor the batcher adds."""
        added = [(name, data_type, (1,)) for name, data_type in self.controls]
        return added + [(s.input_name, s.data_type, s.dims) for s in self.states]


def is_null_request(correlation_id: Any) -> bool:
    return correlation_id in (0, "", None)


class StateStore:
    """Each live sequence's state, for one model instance."""

    def __init__(self, spec: SequenceSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._states: dict[Any, tuple[float, dict[str, np.ndarray]]] = {}
        self._forget_after_s = max(_FORGET_MIN_S, _FORGET_AFTER_IDLES * spec.idle_s)
        self._next_sweep = clock() + self._forget_after_s

    def __len__(self) -> int:
        return len(self._states)

    def feed(
        self, correlation_id: Any, flags: int, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """The request's inputs with each state input set to the sequence's current state."""
        fed = dict(inputs)
        if not self.spec.states or is_null_request(correlation_id) or flags & FLAG_START:
            return fed  # the core's tensors: the initial state, or a null request's dummy
        kept = self._states.get(correlation_id)
        if kept is not None:
            fed.update(kept[1])
        return fed

    def keep(self, correlation_id: Any, flags: int, outputs: Mapping[str, np.ndarray]) -> None:
        """Store the output states a request produced; forget the sequence at END."""
        if not self.spec.states or is_null_request(correlation_id):
            return
        if flags & FLAG_END:
            self._states.pop(correlation_id, None)
        else:
            state = {
                s.input_name: np.array(outputs[s.output_name], copy=True)
                for s in self.spec.states
                if s.output_name in outputs
            }
            self._states[correlation_id] = (self._clock(), state)
        self._forget_idle()

    def _forget_idle(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return  # a sweep walks every sequence: not on every request
        self._next_sweep = now + self._forget_after_s
        cutoff = now - self._forget_after_s
        for key in [k for k, (seen, _) in self._states.items() if seen < cutoff]:
            del self._states[key]
