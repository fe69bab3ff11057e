"""The gateway's retry across a version switch: the answer names the version that computed it; a
model that is not served is a 404 in the user's terms, not the client's call names."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from modelserve.client import ModelNotFoundError
from modelserve.client._translate import translate
from modelserve.repository import ModelRepository
from modelserve.serving.catalog import Catalog
from modelserve.serving.errors import NotFoundError, from_client_error
from modelserve.serving.gateway import Gateway


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
        self.served, self.forgotten, self.triton = served, 0, _Triton()

    def forget(self, name: str) -> None:
        self.forgotten += 1

    async def served_version(self, name: str) -> str:
        return self.served


def _gateway(served: str) -> tuple[Gateway, _Catalog, Any]:
    catalog = _Catalog(served)
    return Gateway(catalog), catalog, SimpleNamespace(state=SimpleNamespace())  # type: ignore[arg-type]


def test_a_call_to_an_unloaded_version_goes_to_the_served_one_and_says_so() -> None:
    gateway, catalog, request = _gateway(served="2")
    out = asyncio.run(gateway.infer(request, "m", {"x": np.zeros((1, 1))}, version="1"))
    assert out.outputs["y"].tolist() == [2.0]
    assert catalog.triton.calls == ["1", "2"]
    assert out.version == "2"  # not the "1" the caller asked for
    assert catalog.forgotten == 1
    assert request.state.triton_s > 0


def test_no_retry_when_the_served_version_did_not_change() -> None:
    gateway, catalog, request = _gateway(served="1")
    with pytest.raises(NotFoundError) as gone:
        asyncio.run(gateway.infer(request, "m", {"x": np.zeros((1, 1))}, version="1"))
    assert gone.value.message == "model 'm' version 1 is not served"  # not the client's "infer m ..."
    assert catalog.triton.calls == ["1"]


class _NoSuchModel:
    async def metadata(self, name: str) -> Any:
        raise translate(
            InferenceServerException(
                f"Request for unknown model: '{name}' is not found", status="StatusCode.NOT_FOUND"
            ),
            url="h:8001",
            what=f"metadata {name}",
        )


def test_an_unknown_model_is_a_404_in_the_users_terms(tmp_path) -> None:
    catalog = Catalog(ModelRepository(tmp_path), _NoSuchModel())  # type: ignore[arg-type]
    with pytest.raises(NotFoundError) as unknown:
        asyncio.run(catalog.served_version("nope"))
    assert unknown.value.message == "model 'nope' is not served"
    # Any other way a client's not-found reaches the handler: Triton's words, not our call's name.
    fallback = from_client_error(unknown.value.__cause__)  # type: ignore[arg-type]
    assert (
        fallback.status == 404
        and fallback.message == "not served: Request for unknown model: 'nope' is not found"
    )
