"""Small ONNX graphs built in code (no downloads), shared by unit and integration tests."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def scale_model(factor: float, *, features: int = 4, batch: bool = True, opset: int = 17) -> onnx.ModelProto:
    """y = x * factor, float32 [N, features] -> [N, features]."""
    first: int | str = "N" if batch else 1
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [first, features])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [first, features])
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [factor])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "k"], ["y"])], "scale", [x], [y], initializer=[k]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def fake_yolov8(classes: int = 80, size: int = 64, transposed: bool = False) -> onnx.ModelProto:
    """A tiny anchor-free-head-shaped graph: three strided convs -> [N, 4+C, sum(h*w)]."""
    rng = np.random.default_rng(0)
    channels, nodes, inits, flats = 4 + classes, [], [], []
    for stride in (8, 16, 32):
        weight = numpy_helper.from_array(
            rng.normal(size=(channels, 3, stride, stride)).astype(np.float32), f"w{stride}"
        )
        inits.append(weight)
        nodes.append(
            helper.make_node("Conv", ["images", weight.name], [f"c{stride}"], strides=[stride, stride])
        )
        nodes.append(helper.make_node("Reshape", [f"c{stride}", "flat_shape"], [f"f{stride}"]))
        flats.append(f"f{stride}")
    inits.append(numpy_helper.from_array(np.array([0, channels, -1], dtype=np.int64), "flat_shape"))
    nodes.append(helper.make_node("Concat", flats, ["cat"], axis=2))
    nodes.append(helper.make_node("Sigmoid", ["cat"], ["sig"]))
    # Box channels in input pixels (as a real head answers), so boxes land across the whole input.
    scale = np.ones((channels, 1), dtype=np.float32)
    scale[:4] = size
    inits.append(numpy_helper.from_array(scale, "scale"))
    nodes.append(helper.make_node("Mul", ["sig", "scale"], ["scaled"] if transposed else ["output0"]))
    if transposed:
        nodes.append(helper.make_node("Transpose", ["scaled"], ["output0"], perm=[0, 2, 1]))
    boxes = sum((size // s) ** 2 for s in (8, 16, 32))
    out_shape: list[str | int] = ["N", boxes, channels] if transposed else ["N", channels, boxes]
    graph = helper.make_graph(
        nodes,
        "fake_v8",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it (Linux): the stat fields after the command name, and argv."""

    pid: int
    state: str  # "Z": a zombie, dead and not yet reaped
    ppid: int
    pgrp: int
    session: int
    argv: tuple[bytes, ...]


def processes() -> Iterator[Proc]:
    """Every process now (one that exits while being read is skipped)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield Proc(int(entry), stat[0], int(stat[1]), int(stat[2]), int(stat[3]), tuple(argv))


def tritonservers(repo: Path) -> list[int]:
    """Live tritonserver processes serving ``repo``."""
    flag = f"--model-repository={repo.resolve()}".encode()
    return [
        p.pid
        for p in processes()
        if p.state != "Z" and p.argv and p.argv[0].endswith(b"tritonserver") and flag in p.argv
    ]


def read_contract(version_dir: Path) -> Any:
    """The contract of ``<repository>/<name>/<version>``, read as the API reads it."""
    from modelserve.families import open_repository

    return open_repository(version_dir.parent.parent).contract(version_dir.parent.name, version_dir.name)


def file_digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) -> its sha256: a directory's bytes, to compare
    before and after, or between two exports. Empty when ``root`` does not exist."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def http_status(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> int:
    """The status a request gets; 0 when nothing answers (refused, reset, timed out)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
