"""Models, ONNX conversions, parity and machine facts for ``benchmarks.gpu_engine``.

Random weights everywhere: same compute as the trained models, nothing to download. Dry-run sizes are
small stand-ins, labelled as such in every result. Needs torch + onnx; torchvision, transformers and
onnxconverter-common are optional (fallbacks below say which was used).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from torch import nn

Feeds = dict[str, npt.NDArray[Any]]
ROOT = Path(__file__).resolve().parents[1]
# transformers must not import TensorFlow (installed on the dev boxes for other exports); whatever
# imports transformers first (the exporters may) fixes that choice, so set it at import time.
os.environ.setdefault("USE_TF", "0")

VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", *[256] * 3, "M", *([512] * 3 + ["M"]) * 2]


def num(x: float) -> float | str:
    return round(float(x), 6) if np.isfinite(x) else str(x)  # JSON has no NaN/inf


def compare(ref: npt.NDArray[Any], got: npt.NDArray[Any], tol: float) -> dict[str, Any]:
    a, b = ref.astype(np.float64), got.astype(np.float64)
    max_abs = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(a)))
    rel = max_abs / scale if scale > 0 else max_abs
    ok = bool(np.all(np.isfinite(b))) and rel <= tol
    return {
        "max_abs": num(max_abs),
        "rel_to_max": num(rel),
        "ref_max_abs": num(scale),
        "tol": tol,
        "ok": ok,
    }


def machine_info(cuda: bool) -> dict[str, Any]:
    def sh(*cmd: str) -> str | None:
        try:
            run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=10)
            return run.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None

    vers: dict[str, str | None] = {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
    }
    for mod in ("onnxruntime", "torchvision", "transformers", "onnxconverter_common"):
        try:
            vers[mod] = __import__(mod).__version__
        except Exception:
            vers[mod] = None
    import onnxruntime as ort

    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cpu": sh("sed", "-n", "s/^model name\\s*: //p;T;q", "/proc/cpuinfo") or platform.processor(),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "python": platform.python_version(),
        "versions": vers,
        "onnxruntime_path": str(Path(ort.__file__).parent),  # /tmp/site/... = the staged GPU build
        "ort_providers": ort.get_available_providers(),
        "torch_tf32": {
            "cudnn": torch.backends.cudnn.allow_tf32,
            "matmul": torch.backends.cuda.matmul.allow_tf32,
        },
        # a copied tree (the GPU machine) may carry a stale .git: the caller's word comes first
        "commit": os.environ.get("MODELSERVE_COMMIT") or sh("git", "rev-parse", "HEAD"),
        "dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
    }


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, out, 1, bias=False),
            nn.BatchNorm2d(out),
        )
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != out:
            self.down = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.body(x) + self.down(x))
        return out


class LocalResNet(nn.Module):
    """Local stand-in for torchvision's ResNet50 (same layout and init at the defaults); used when
    torchvision is missing, and shrunk for the dry run."""

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), base: int = 64, classes: int = 1000) -> None:
        super().__init__()
        mods: list[nn.Module] = [
            nn.Conv2d(3, base, 7, 2, 3, bias=False),
            nn.BatchNorm2d(base),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        ]
        cin = base
        for i, n in enumerate(layers):
            for j in range(n):
                mods.append(_Bottleneck(cin, base * 2**i, 2 if j == 0 and i > 0 else 1))
                cin = base * 2**i * 4
        mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
        self.net = nn.Sequential(*mods)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # torchvision's init: keeps activations in fp16 range
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class LocalVGG(nn.Module):
    """Local stand-in for torchvision's VGG (features, 7x7 pool, 3-layer classifier)."""

    def __init__(self, cfg: list[int | str], pool: int = 7, hidden: int = 4096, classes: int = 1000) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        cin = 3
        for c in cfg:
            if c == "M":
                mods.append(nn.MaxPool2d(2, 2))
            else:
                mods += [nn.Conv2d(cin, int(c), 3, padding=1), nn.ReLU(inplace=True)]
                cin = int(c)
        mods += [nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(cin * pool * pool, hidden)]
        mods += [nn.ReLU(True), nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout()]
        mods.append(nn.Linear(hidden, classes))
        self.net = nn.Sequential(*mods)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class BertLastHidden(nn.Module):
    """BertModel -> last_hidden_state, so ONNX and CUDA graphs see one plain tensor output."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return out


@dataclass
class ModelSpec:
    name: str
    label: str  # what was really built: a stand-in says so
    module: nn.Module  # timed by torch: fp32, eval, CPU
    export_module: nn.Module  # exported to ONNX (BERT: eager attention, same weights)
    input_names: list[str]
    torch_inputs: list[str]  # the inputs the torch runs pass (BERT: ids only; an all-ones mask is a no-op)
    make_inputs: Callable[[int], Feeds]
    batches: list[int]
    conv: bool
    bert_dims: tuple[int, int] | None = None  # (heads, hidden) for ONNX Runtime's transformer optimizer


def _image_inputs(size: int) -> Callable[[int], Feeds]:
    def make(batch: int) -> Feeds:
        rng = np.random.default_rng(batch)
        return {"x": rng.standard_normal((batch, 3, size, size), dtype=np.float32)}

    return make


def build(name: str, dry_run: bool) -> ModelSpec:
    """The named model; dry-run sizes are tiny so the whole code path runs on a CPU in seconds."""
    cnn_batches = [1, 2] if dry_run else [1, 8, 32, 64, 128]
    if name in ("resnet50", "vgg16"):
        mod: nn.Module
        if dry_run:
            mod = (
                LocalResNet((1, 1, 1, 1), 8, 10)
                if name == "resnet50"
                else LocalVGG([8, "M", 16, "M"], 2, 32, 10)
            )
            label, size = f"dry-run stand-in: local tiny {name[:3]} net, 64x64", 64
        else:
            size = 224
            try:
                import torchvision

                mod = getattr(torchvision.models, name)(weights=None)
                label = f"torchvision {name}, random weights, 224x224"
            except ImportError:  # same layout and compute, built here
                mod = LocalResNet() if name == "resnet50" else LocalVGG(VGG16_CFG)
                label = f"local {name} (torchvision missing), random weights, 224x224"
        mod = mod.eval()
        return ModelSpec(name, label, mod, mod, ["x"], ["x"], _image_inputs(size), cnn_batches, True)
    if name == "bert":
        hf: Any = importlib.import_module("transformers")  # untyped: keep mypy's strict mode quiet

        small = {
            "num_hidden_layers": 2,
            "hidden_size": 64,
            "num_attention_heads": 2,
            "intermediate_size": 128,
        }
        kw: dict[str, Any] = {**small, "vocab_size": 1000} if dry_run else {}
        seq = 16 if dry_run else 128
        torch.manual_seed(0)
        bert = hf.BertModel(hf.BertConfig(**kw)).eval()
        # The TorchScript exporter traces the eager attention most reliably; torch keeps its default (SDPA).
        eager = hf.BertModel(hf.BertConfig(**kw, attn_implementation="eager")).eval()
        eager.load_state_dict(bert.state_dict())
        cfg = bert.config
        vocab = int(cfg.vocab_size)

        def make(batch: int) -> Feeds:
            rng = np.random.default_rng(batch)
            return {
                "input_ids": rng.integers(0, vocab, (batch, seq), dtype=np.int64),
                "attention_mask": np.ones((batch, seq), dtype=np.int64),
            }

        return ModelSpec(
            "bert",
            f"BERT-base{' (dry-run: 2 layers, hidden 64)' if dry_run else ''}, seq {seq}, random weights",
            BertLastHidden(bert).eval(),
            BertLastHidden(eager).eval(),
            ["input_ids", "attention_mask"],
            ["input_ids"],
            make,
            [1, 2] if dry_run else [1, 8, 32, 64],
            False,
            (int(cfg.num_attention_heads), int(cfg.hidden_size)),
        )
    raise ValueError(f"unknown model {name!r} (resnet50, vgg16, bert)")


def export_onnx(spec: ModelSpec, path: Path) -> str:
    """One self-contained model.onnx with a dynamic batch axis; returns which exporter wrote it."""
    args = tuple(torch.from_numpy(v) for v in spec.make_inputs(2).values())
    dyn = {n: {0: "N"} for n in [*spec.input_names, "y"]}
    common: dict[str, Any] = {"input_names": spec.input_names, "output_names": ["y"], "dynamic_axes": dyn}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notices
        try:
            torch.onnx.export(spec.export_module, args, str(path), opset_version=17, dynamo=False, **common)
            how = "torch.onnx.export dynamo=False (TorchScript), opset 17"
        except Exception as exc:  # legacy exporter gone or failing: dynamo, weights kept inside the file
            torch.onnx.export(
                spec.export_module,
                args,
                str(path),
                opset_version=18,
                dynamo=True,
                external_data=False,
                **common,
            )
            how = f"torch.onnx.export dynamo=True external_data=False (legacy failed: {exc!r:.200})"
    if path.with_name(path.name + ".data").exists():
        raise RuntimeError(f"{path} has an external .data file; Triton expects one model.onnx")
    return how


def _fp16_converters() -> list[tuple[str, Callable[..., Any]]]:
    found: list[tuple[str, Callable[..., Any]]] = []
    try:
        from onnxconverter_common.float16 import convert_float_to_float16

        found.append(("onnxconverter-common float16", convert_float_to_float16))
    except ImportError:  # not on the GPU machine by default
        pass
    # onnxruntime's copy of the same code; it also retypes Cast(to=float) nodes, which
    # onnxconverter-common 1.16 leaves as float, so its BERT fp16 fails to load (type error at /bert/Cast)
    from onnxruntime.transformers.float16 import convert_float_to_float16 as ort_convert

    return [*found, ("onnxruntime.transformers.float16", ort_convert)]


def to_fp16(src: Path, dst: Path, check: Callable[[], object]) -> str:
    """fp32 ONNX -> fp16 weights/compute with fp32 inputs and outputs (keep_io_types: callers feed what
    fp32 takes). Converters are tried in order until ``check`` (loading dst) passes."""
    failed: list[str] = []
    for name, convert in _fp16_converters():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one "truncated to fp16 range" warning per clamped weight
                onnx.save(convert(onnx.load(str(src)), keep_io_types=True), str(dst))
            check()
            return f"{name}, keep_io_types" + (f" (after: {'; '.join(failed)})" if failed else "")
        except Exception as exc:
            failed.append(f"{name} failed: {exc!r:.200}")
    raise RuntimeError("; ".join(failed))


def bert_fused_fp16(src: Path, dst: Path, heads: int, hidden: int) -> str:
    """ONNX Runtime's transformer optimizer (fused Attention, SkipLayerNorm, BiasGelu) then fp16."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    opt.convert_float_to_float16(keep_io_types=True)
    opt.save_model_to_file(str(dst))
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    return f"onnxruntime.transformers optimizer (bert) + fp16 keep_io_types; fused: {fused}"
