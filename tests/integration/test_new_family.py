"""A new model family is one folder and one registry line: added to a copy of the project, a toy
family (contract + export options + handler) exports through ``modelserve export`` and serves
through the API, with no other file touched."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LINKED = ("api", "client", "contracts", "export", "monitor", "serve", "benchmarks")
REGISTRY = "modelserve/families/__init__.py"

TOY = {
    "__init__.py": '''
        """Scale: a vector times a factor. The smallest family, as docs/design.md shows it."""

        from __future__ import annotations

        from collections.abc import Sequence

        from fastapi import APIRouter

        from modelserve.families.family import Family
        from modelserve.families.toy.contract import ScaleContract
        from modelserve.families.toy.options import SCALE


        def _routers() -> Sequence[APIRouter]:
            from modelserve.families.toy import handler

            return (handler.router,)


        FAMILY = Family(
            name="toy",
            summary="a vector -> the vector times the version's factor (POST /v1/toy/{name}/scale)",
            contracts=(ScaleContract,),
            exports=(SCALE,),
            routers=_routers,
            monitoring="nothing: a scaled vector is no label",
        )
    ''',
    "contract.py": """
        from __future__ import annotations

        from typing import Literal

        from modelserve.contracts.model import ContractBase


        class ScaleContract(ContractBase):
            kind: Literal["scale"] = "scale"
            factor: float
            width: int
    """,
    "options.py": """
        from __future__ import annotations

        from dataclasses import dataclass, field

        from modelserve.export.verb import ExportOptions, ExportReport, ExportVerb, Progress, opt
        from modelserve.repository import ModelRepository


        @dataclass(frozen=True, kw_only=True)
        class ScaleOptions(ExportOptions):  # --name (checked first) and --version come with the base
            factor: float = field(default=2.0, metadata=opt("what every value is multiplied by"))
            width: int = field(default=4, metadata=opt("values per vector", min=1))


        def _scale(repo: ModelRepository, o: ScaleOptions, progress: Progress) -> ExportReport:
            import onnx
            from onnx import TensorProto, helper

            from modelserve.families.toy.contract import ScaleContract
            from modelserve.repository import ModelEntry, TensorConfig

            x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", o.width])
            y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", o.width])
            k = helper.make_tensor("k", TensorProto.FLOAT, [], [o.factor])
            graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "s", [x], [y], [k])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
            model.ir_version = 8
            onnx.checker.check_model(model)
            entry = ModelEntry(
                name=o.name,
                max_batch_size=8,
                inputs=(TensorConfig(name="x", data_type="FP32", dims=(o.width,)),),
                outputs=(TensorConfig(name="y", data_type="FP32", dims=(o.width,)),),
            )
            contract = ScaleContract(framework="onnx", factor=o.factor, width=o.width)
            written = repo.write_version(entry, model, version=o.version, contract=contract)
            return ExportReport(written=(written,))


        SCALE = ExportVerb(name="scale", help="A vector times a factor.", options=ScaleOptions, run=_scale)
    """,
    "handler.py": """
        from __future__ import annotations

        from typing import Annotated

        import numpy as np
        from fastapi import APIRouter, Depends
        from pydantic import BaseModel, Field

        from modelserve.families.toy.contract import ScaleContract
        from modelserve.serving.call import Call, ModelAnswer, call_for
        from modelserve.serving.errors import UnprocessableError

        router = APIRouter()


        class ScaleRequest(BaseModel):
            values: list[float] = Field(min_length=1, max_length=64)


        class ScaleResponse(ModelAnswer):
            values: list[float]


        @router.post("/v1/toy/{name}/scale", response_model=ScaleResponse)
        async def scale(
            call: Annotated[Call[ScaleContract], Depends(call_for(ScaleContract))], body: ScaleRequest
        ) -> ScaleResponse:
            if len(body.values) != call.contract.width:
                raise UnprocessableError(f"values: {call.contract.width} expected, {len(body.values)} given")
            out = await call.infer({"x": np.asarray([body.values], np.float32)})
            return call.answer(ScaleResponse, values=out["y"][0].tolist())
    """,
}

SCENARIO = """
import json, subprocess, sys
from pathlib import Path

import httpx

from modelserve.api.app import create_app
from modelserve.ops.stack import local_triton, serving
from modelserve.serving.settings import ApiSettings

tmp = Path(sys.argv[1])
export = [sys.executable, "-m", "modelserve", "export", "scale", "--name", "tiny", "--factor", "3",
          "-r", str(tmp / "repo")]
printed = subprocess.run(export, capture_output=True, text=True, check=True).stdout
with local_triton(tmp / "repo", tmp / "work", lock_control_plane=False) as triton:
    settings = ApiSettings(triton_url=triton.endpoints.grpc_url, repository=tmp / "repo", monitoring=False)
    with serving(create_app(settings)) as url:
        answer = httpx.post(url + "/v1/toy/tiny/scale", json={"values": [1, 2, 3, 4]}, timeout=30)
        wrong = httpx.post(url + "/v1/toy/tiny/scale", json={"values": [1]}, timeout=30)
print(json.dumps({"export": printed, "status": answer.status_code, "body": answer.json(),
                  "wrong": [wrong.status_code, wrong.json()]}))
"""


def _copy_project(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "modelserve", dest / "modelserve", symlinks=True, ignore=ignore)
    for name in LINKED:
        shutil.copytree(ROOT / name, dest / name, symlinks=True, ignore=ignore)


def _files(root: Path) -> set[str]:
    found = set()
    for dirpath, _, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(dirpath) / name
            if "__pycache__" not in path.parts:
                found.add(str(path.relative_to(root)))
    return found


def test_a_toy_family_in_one_folder_and_one_registry_line_exports_and_serves(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    _copy_project(before)
    _copy_project(after)
    toy = after / "modelserve" / "families" / "toy"
    toy.mkdir()
    for name, text in TOY.items():
        (toy / name).write_text(textwrap.dedent(text).lstrip())
    registry = after / REGISTRY
    lines = registry.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if 'registered("recommendations")' in line)
    lines.insert(at + 1, '    registered("toy"),\n')
    registry.write_text("".join(lines))

    # The diff: one registry line, one new folder, nothing else.
    added = _files(after) - _files(before)
    changed = sorted(
        f for f in _files(before) & _files(after) if not filecmp.cmp(before / f, after / f, shallow=False)
    )
    assert changed == [REGISTRY]
    assert sorted(added) == sorted(f"modelserve/families/toy/{name}" for name in TOY)
    old, new = (before / REGISTRY).read_text().splitlines(), registry.read_text().splitlines()
    assert len(new) - len(old) == 1 and set(new) - set(old) == {'    registered("toy"),'}

    env = {**os.environ, "PYTHONPATH": str(after)}  # this copy of modelserve, before the installed one
    run = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(tmp_path)],
        env=env,
        cwd=tmp_path,  # not the checkout: `-m` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "exported tiny v1" in result["export"]
    assert result["status"] == 200, result["body"]
    assert result["body"] == {
        "model": "tiny",
        "version": "1",
        "weights": "unknown",
        "values": [3.0, 6.0, 9.0, 12.0],
    }
    status, error = result["wrong"]
    assert status == 422 and "4 expected, 1 given" in error["error"]["message"]
