"""``modelserve infer MODEL -d JSON``: one request, inputs typed from the model's metadata."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import typer

from modelserve.cli.common import Proto, Url, run
from modelserve.client import TritonClient


def parse_inputs(data: str, dtypes: dict[str, str]) -> dict[str, np.ndarray]:
    """``{"name": nested list}`` -> arrays typed from the model's metadata."""
    from tritonclient.utils import triton_to_np_dtype

    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--data is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not raw:
        raise ValueError(
            '--data must be a JSON object of input name -> nested list, e.g. {"features": [[1, 2]]}'
        )
    unknown = sorted(set(raw) - set(dtypes))
    if unknown:
        raise ValueError(f"unknown inputs {unknown}; the model takes {sorted(dtypes)}")
    arrays = {}
    for name, value in raw.items():
        try:
            arrays[name] = np.asarray(value, dtype=triton_to_np_dtype(dtypes[name]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"input '{name}' is not a {dtypes[name]} array: {exc}") from exc
    return arrays


def infer(
    model: str,
    data: Annotated[str, typer.Option("--data", "-d", help='JSON: {"input": [[...]], ...}')],
    url: Url = "127.0.0.1:8001",
    protocol: Proto = "grpc",
    version: Annotated[str, typer.Option(help="model version (default: per version policy)")] = "",
) -> None:
    """Send one request to a running server and print the outputs as JSON."""

    def go() -> dict[str, Any]:
        with TritonClient(url, protocol=protocol, timeout_s=30) as client:
            meta = client.metadata(model, version)
            inputs = parse_inputs(data, {t.name: t.datatype for t in meta.inputs})
            return {k: v.tolist() for k, v in client.infer(model, inputs, version=version).items()}

    typer.echo(json.dumps(run(go)))
