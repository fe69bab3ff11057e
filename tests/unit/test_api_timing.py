"""timing.infer's retry across a version switch: the answer names the version that computed it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from api import timing
from client import ModelNotFoundError


class _Triton:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def infer(
        self, model: str, inputs: Any, *, outputs: Any = None, version: str = ""
    ) -> dict[str, Any]:
        self.calls.append(version)
        if version == "1":
            raise ModelNotFoundError("version 1 was unloaded")
        return {"y": np.array([float(version)])}


class _Catalog:
    def __init__(self, served: str) -> None:
        self.served_version, self.forgotten = served, 0

    def forget(self, name: str) -> None:
        self.forgotten += 1

    async def served(self, triton: Any, name: str) -> Any:
        return SimpleNamespace(version=self.served_version)


def _request(served: str) -> Any:
    triton = _Triton()
    state = SimpleNamespace(triton=triton, catalog=_Catalog(served))
    return SimpleNamespace(app=SimpleNamespace(state=state), state=SimpleNamespace())


def test_a_call_to_an_unloaded_version_goes_to_the_served_one_and_says_so() -> None:
    request = _request(served="2")
    out = asyncio.run(timing.infer(request, "m", {"x": np.zeros((1, 1))}, version="1"))
    assert out["y"].tolist() == [2.0]
    assert request.app.state.triton.calls == ["1", "2"]
    assert request.state.triton_version == "2"  # not the "1" the caller asked for
    assert request.app.state.catalog.forgotten == 1
    assert request.state.triton_s > 0


def test_no_retry_when_the_served_version_did_not_change() -> None:
    request = _request(served="1")
    with pytest.raises(ModelNotFoundError):
        asyncio.run(timing.infer(request, "m", {"x": np.zeros((1, 1))}, version="1"))
    assert request.app.state.triton.calls == ["1"]
