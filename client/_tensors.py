"""numpy <-> tritonclient InferInput/InferResult, the same for the HTTP and gRPC modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np
from tritonclient.utils import np_to_triton_dtype

from modelserve.client.errors import InvalidInputError


def build_inputs(module: ModuleType, inputs: Mapping[str, np.ndarray], *, binary: bool = True) -> list[Any]:
    if not inputs:
        raise InvalidInputError("no inputs given")
    built = []
    for name, array in inputs.items():
        if not isinstance(array, np.ndarray):
            raise InvalidInputError(f"input '{name}' must be a numpy array, got {type(array).__name__}")
        dtype = np_to_triton_dtype(array.dtype)
        if dtype is None:
            raise InvalidInputError(f"input '{name}' has dtype {array.dtype}, which Triton cannot carry")
        tensor = module.InferInput(name, list(array.shape), dtype)
        if module.__name__.startswith("tritonclient.http"):
            tensor.set_data_from_numpy(array, binary_data=binary)
        else:
            tensor.set_data_from_numpy(array)
        built.append(tensor)
    return built


def build_outputs(module: ModuleType, names: Sequence[str] | None) -> list[Any] | None:
    if not names:
        return None
    return [module.InferRequestedOutput(name) for name in names]


def result_arrays(result: Any, names: Sequence[str] | None) -> dict[str, np.ndarray]:
    if names:
        wanted = list(names)
    else:
        response = result.get_response()
        outputs = response["outputs"] if isinstance(response, dict) else response.outputs
        wanted = [o["name"] if isinstance(o, dict) else o.name for o in outputs]
    arrays: dict[str, np.ndarray] = {}
    for name in wanted:
        array = result.as_numpy(name)
        if array is not None:
            arrays[name] = array
    return arrays
