"""Engine comparison on one GPU: torch (eager, CUDA graph) vs ONNX Runtime CUDA EP, fp32/fp16, batch sweep.

For ResNet50, VGG16 (torchvision, random weights) and BERT-base seq 128 (transformers, random weights),
in ONE run on the same card: torch eager fp32/fp16 and torch CUDA graph fp16; torch.onnx.export to one
model.onnx; fp16 by the float16 converter with keep_io_types (onnxconverter-common if installed, else
onnxruntime's copy of it, which BERT needs: it retypes Cast nodes), parity vs fp32 checked before timing;
ONNX Runtime CUDA EP fp32/fp16 with numpy in/out and with IO binding (tensors stay on the device), fp16
NHWC (CNNs), fused-BERT fp16 (ORT transformer optimizer), CUDA graphs at batch 1. p50/p90 of --runs timed
runs after warm-up; items/s = batch / p50. Prints a table; writes JSON (machine, rows, goals) to --out,
after every case, so a run cut off still leaves its rows.

On the GPU machine, with onnxruntime-gpu staged (`bash ../shared/gpu/stage-wheels.sh onnxruntime-gpu==1.31.1`,
parts sent back to back, .gpu/install.sh with the last one), from the repository root:

    bash .gpu/install.sh && export PYTHONPATH=/tmp/site && python3 -c "import onnxruntime as o; \
    o.preload_dlls(); p = o.get_available_providers(); assert 'CUDAExecutionProvider' in p, p" \
    && python3 -m modelserve.benchmarks.gpu_engine --out "$OUT/gpu_engine.json" --time-budget-s 420

(the script calls preload_dlls() itself too). No new case starts after --time-budget-s; the rest are
recorded as skipped. Dry run on a CPU box (tiny stand-ins, CPU EP, CUDA-only cases recorded as skipped):

    python -m modelserve.benchmarks.gpu_engine --dry-run --out /tmp/gpu_engine_dry.json
"""

from __future__ import annotations

import argparse
import copy
import functools
import gc
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelserve.benchmarks import gpu_models as gm
from modelserve.benchmarks.gpu_engine_report import goals, print_table

Step = Callable[[], object]
Check = Callable[[], float] | None
FP32_TOL, FP16_TOL = 1e-2, 5e-2  # max |diff| / max |reference|; fp32 allows TF32 convs/matmuls
PARITY_BATCH = 2


@functools.cache
def _ort() -> Any:
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):  # onnxruntime-gpu: load CUDA/cuDNN from torch's nvidia-* wheels
        ort.preload_dlls()
    return ort


def timed(step: Step, sync: Callable[[], None], warmup: int, runs: int) -> tuple[float, float]:
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        sync()  # torch launches asynchronously; ORT's run() already waits for the device
        times.append(time.perf_counter() - t0)
    p50, p90 = np.percentile(np.asarray(times) * 1e3, [50, 90])
    return float(p50), float(p90)


class Bench:
    """One model's artefacts (ONNX files, sessions, torch copies), built lazily and shared by cases."""

    def __init__(self, spec: gm.ModelSpec, cuda: bool, work: Path) -> None:
        self.spec, self.cuda, self.work = spec, cuda, work
        self.dev = torch.device("cuda" if cuda else "cpu")
        self.notes: dict[str, str] = {"model": spec.label}
        self.parity: dict[str, dict[str, Any]] = {}
        self.onnx: dict[str, Path] = {}
        self._sessions: dict[tuple[str, bool, bool], Any] = {}
        self._torch: dict[str, torch.nn.Module] = {}

    def prepare(self) -> None:
        """Export, convert, and check parity at PARITY_BATCH before anything is timed. Each stage fails
        alone: rows needing a missing model carry its error (see session()), the others still run."""
        s, feeds = self.spec, self.spec.make_inputs(PARITY_BATCH)
        fp32, fp16, fused = (self.work / f"{s.name}{sfx}.onnx" for sfx in ("", "_fp16", "_fp16_fused"))
        try:
            self.notes["fp32"] = gm.export_onnx(s, fp32)
            self.onnx["fp32"] = fp32
            ref = s.export_module(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
            out32 = self.session("fp32").run(None, feeds)[0]
            self.parity["onnx_fp32_vs_torch_fp32"] = gm.compare(ref, out32, FP32_TOL)
        except Exception as exc:
            self.notes["fp32"] = f"failed: {exc!r:.300}"
        builds: dict[str, tuple[Path, Callable[[], str]]] = {}
        if "fp32" in self.onnx:
            builds["fp16"] = (fp16, lambda: gm.to_fp16(fp32, fp16, lambda: self.session("fp16")))
        if "fp32" in self.onnx and s.bert_dims:
            dims = s.bert_dims
            builds["fp16-fused"] = (fused, lambda: gm.bert_fused_fp16(fp32, fused, *dims))
        for variant, (path, build) in builds.items():
            try:
                self.onnx[variant] = path
                self.notes[variant] = build()
                got = self.session(variant).run(None, feeds)[0]
                self.parity[f"onnx_{variant}_vs_onnx_fp32"] = gm.compare(out32, got, FP16_TOL)
            except Exception as exc:
                self.onnx.pop(variant, None)
                self.notes[variant] = f"failed: {exc!r:.300}"
        try:
            a32, a16 = self.torch_args(PARITY_BATCH, "fp32"), self.torch_args(PARITY_BATCH, "fp16")
            r32 = self.torch_model("fp32")(*a32).float().cpu().numpy()
            r16 = self.torch_model("fp16")(*a16).float().cpu().numpy()
            self.parity["torch_fp16_vs_torch_fp32"] = gm.compare(r32, r16, FP16_TOL)
        except Exception as exc:
            self.parity["torch_fp16_vs_torch_fp32"] = {"ok": False, "error": f"{exc!r:.300}"}

    def session(self, variant: str, nhwc: bool = False, graph: bool = False) -> Any:
        key = (variant, nhwc, graph)
        if key not in self._sessions:
            ort = _ort()
            if variant not in self.onnx:
                raise RuntimeError(f"no {variant} ONNX model: {self.notes.get(variant, 'not built')}")
            so = ort.SessionOptions()
            so.log_severity_level = 3  # Memcpy/fallback warnings would flood the output tail
            if graph:  # fixed batch 1: shape subgraphs fold away, so every node can live on the CUDA EP
                so.add_free_dimension_override_by_name("N", 1)
            opts: dict[str, str] = {"enable_cuda_graph": "1"} if graph else {}
            if nhwc:
                opts["prefer_nhwc"] = "1"  # fp16 convs on tensor cores want channels-last
            providers = [("CUDAExecutionProvider", opts)] if self.cuda else ["CPUExecutionProvider"]
            sess = ort.InferenceSession(str(self.onnx[variant]), so, providers=providers)
            if self.cuda and sess.get_providers()[0] != "CUDAExecutionProvider":
                raise RuntimeError(f"CUDA EP not active: {sess.get_providers()}")
            self._sessions[key] = sess
        return self._sessions[key]

    def torch_model(self, precision: str) -> torch.nn.Module:
        if precision not in self._torch:
            m = copy.deepcopy(self.spec.module)  # .half() and .to() work in place
            self._torch[precision] = (m.half() if precision == "fp16" else m).to(self.dev)
        return self._torch[precision]

    def torch_args(self, batch: int, precision: str) -> list[torch.Tensor]:
        feeds = self.spec.make_inputs(batch)
        args = [torch.from_numpy(feeds[n]).to(self.dev) for n in self.spec.torch_inputs]
        return [a.half() if precision == "fp16" and a.is_floating_point() else a for a in args]

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def torch_step(self, precision: str, batch: int, graph: bool) -> Step:
        model, args = self.torch_model(precision), self.torch_args(batch, precision)
        if not graph:
            return lambda: model(*args)
        # warm up on a side stream before capture (cuDNN picks its algorithms then, as torch's docs do)
        side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                model(*args)
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            model(*args)
        return g.replay

    def ort_step(self, variant: str, io: str, batch: int, nhwc: bool, graph: bool) -> tuple[Step, Check]:
        """The timed step, and a check run after timing: max |diff| of the bound outputs vs the plain
        session, relative to its max (catches a CUDA graph replaying stale buffers, or NHWC going wrong)."""
        ort, sess = _ort(), self.session(variant, nhwc, graph)
        feeds = self.spec.make_inputs(batch)
        if io == "numpy":  # host arrays in and out: includes the copies
            return (lambda: sess.run(None, feeds)), None
        dev = "cuda" if self.cuda else "cpu"
        # Output shapes from a plain run, so outputs can be allocated once at fixed addresses (CUDA graphs
        # need that; it also saves an allocation per run).
        plain = self.session(variant).run(None, feeds)
        binding = sess.io_binding()
        keep = [ort.OrtValue.ortvalue_from_numpy(a, dev, 0) for a in feeds.values()]
        keep += [ort.OrtValue.ortvalue_from_shape_and_type(o.shape, o.dtype, dev, 0) for o in plain]
        for name, v in zip(feeds, keep, strict=False):
            binding.bind_ortvalue_input(name, v)
        for out, v in zip(sess.get_outputs(), keep[len(feeds) :], strict=True):
            binding.bind_ortvalue_output(out.name, v)

        def step() -> None:
            _ = keep  # the OrtValues must outlive the binding
            sess.run_with_iobinding(binding)

        def check() -> float:
            pairs = zip(keep[len(feeds) :], plain, strict=True)
            return max(float(np.max(np.abs(v.numpy() - o)) / max(np.max(np.abs(o)), 1e-12)) for v, o in pairs)

        return step, check

    def close(self) -> None:
        self._sessions.clear()
        self._torch.clear()
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()


def cases(spec: gm.ModelSpec, batches: list[int], cuda: bool) -> list[dict[str, Any]]:
    """Every case for one model; CUDA-only ones stay in the list (recorded as skipped on a CPU)."""
    ep = "ort-cuda" if cuda else "ort-cpu"
    plan: list[tuple[str, str, str, int]] = []
    for b in batches:
        plan += [("torch-eager", p, "device", b) for p in ("fp32", "fp16")] + [
            ("torch-cudagraph", "fp16", "device", b)
        ]
        plan += [(ep, p, io, b) for p in ("fp32", "fp16") for io in ("numpy", "iobinding")]
        plan.append(
            (f"{ep}-nhwc", "fp16", "iobinding", b) if spec.conv else (ep, "fp16-fused", "iobinding", b)
        )
    plan += [
        ("ort-cuda-graph", p, "iobinding", 1) for p in ("fp32", "fp16", "fp16-fused")[: 2 if spec.conv else 3]
    ]
    return [{"engine": e, "precision": p, "io": io, "batch": b} for e, p, io, b in plan]


def batches_for(model: str, spec: str) -> list[int]:
    """``--batches``: "1,64" for every model, or per model "resnet50=1,128 bert=1,64"."""
    if "=" not in spec:
        return [int(b) for b in spec.split(",") if b]
    per = dict(part.split("=", 1) for part in spec.split())
    return [int(b) for b in per.get(model, "").split(",") if b]


def cuda_only(engine: str) -> bool:
    return "graph" in engine or engine.endswith("nhwc")


def parity_for(bench: Bench, case: dict[str, Any]) -> dict[str, Any] | None:
    prec, engine = case["precision"], case["engine"]
    if prec == "fp32":
        key = None if engine.startswith("torch") else "onnx_fp32_vs_torch_fp32"
    else:
        key = "torch_fp16_vs_torch_fp32" if engine.startswith("torch") else f"onnx_{prec}_vs_onnx_fp32"
    return {"check": key, **bench.parity[key]} if key and key in bench.parity else None


def _no_sync() -> None:
    pass


def run_case(bench: Bench, case: dict[str, Any], warmup: int, runs: int) -> dict[str, Any]:
    eng, prec, batch = case["engine"], case["precision"], case["batch"]
    if eng.startswith("torch"):
        step, sync, check = bench.torch_step(prec, batch, graph=eng == "torch-cudagraph"), bench.sync, None
    else:  # ORT's run() returns once the device is done: no extra sync inside the timed window
        step, check = bench.ort_step(
            prec, case["io"], batch, nhwc=eng.endswith("nhwc"), graph=eng == "ort-cuda-graph"
        )
        sync = _no_sync
    p50, p90 = timed(step, sync, warmup, runs)
    out = {"p50_ms": round(p50, 4), "p90_ms": round(p90, 4), "items_s": round(batch / (p50 / 1e3), 1)}
    return out | ({"vs_plain_session_rel": gm.num(check())} if check else {})


def bench_model(name: str, a: argparse.Namespace, cuda: bool, work: Path, result: dict[str, Any]) -> None:
    """All cases of one model into result["rows"]; errors and skips are rows too, never dropped."""
    began, budget = result["_began"], a.time_budget_s
    spec_err, bench = None, None
    todo: list[dict[str, Any]] = [{"engine": "all", "precision": "-", "io": "-", "batch": 0}]
    try:
        spec = gm.build(name, a.dry_run)
        todo = cases(spec, batches_for(name, a.batches) or spec.batches, cuda)
        bench = Bench(spec, cuda, work)
        if time.perf_counter() - began > budget:
            spec_err = f"skipped: time budget {budget:.0f} s spent before this model"
        else:
            bench.prepare()
            result["models"][name] = {"notes": bench.notes, "parity": bench.parity}
    except Exception as exc:
        spec_err = f"error building model: {exc!r:.500}"
    for case in todo:
        label = f"{name} {case['engine']} {case['precision']} {case['io']} b{case['batch']}"
        row: dict[str, Any] = {"model": name, **case, "p50_ms": None, "p90_ms": None, "items_s": None}
        row.update(parity=None, status="skipped", error=spec_err)
        elapsed = time.perf_counter() - began
        if spec_err:
            row["status"] = "skipped" if spec_err.startswith("skipped") else "error"
        elif cuda_only(case["engine"]) and not cuda:
            row["error"] = "skipped: needs CUDA (this run is on the CPU)"
        elif elapsed > budget:
            row["error"] = f"skipped: time budget {budget:.0f} s spent"
        else:
            assert bench is not None
            row.update(parity=parity_for(bench, case), status="ok")
            try:
                row.update(run_case(bench, case, result["warmup"], result["runs"]))
                vs_plain = row.get("vs_plain_session_rel", 0.0)
                if row["parity"] and not (isinstance(vs_plain, float) and vs_plain <= FP16_TOL):
                    row["parity"] = {
                        **row["parity"],
                        "ok": False,
                    }  # this session disagrees with the checked one
            except Exception as exc:  # one failing case is recorded; the rest go on
                row.update(status="error", error=f"{type(exc).__name__}: {str(exc)[:500]}")
            print(
                f"[{elapsed:6.1f}s] {label}: "
                + (f"{row['p50_ms']} ms" if row["status"] == "ok" else row["error"][:99]),
                flush=True,  # stdout is a file on the GPU machine: keep progress if the run is cut off
            )
        if "time budget" in (row["error"] or ""):
            result["skipped"].append(label)
        result["rows"].append(row)
        result["_save"]()
    if bench is not None:
        bench.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--models", default="resnet50,bert,vgg16", help="comma list: resnet50,bert,vgg16")
    p.add_argument(
        "--batches",
        default="",
        help='"1,64" for every model or "resnet50=1,128 bert=1,64" (default: per model)',
    )
    p.add_argument("--runs", type=int, default=0, help="timed runs per case (default 30; dry run 3)")
    p.add_argument("--warmup", type=int, default=0, help="warm-up runs per case (default 10; dry run 1)")
    p.add_argument("--time-budget-s", type=float, default=420.0, help="no new case starts after this")
    p.add_argument("--out", type=Path, required=True, help="JSON result file")
    p.add_argument("--workdir", type=Path, default=None, help="keep the ONNX files here")
    p.add_argument("--dry-run", action="store_true", help="tiny models, CPU EP, CUDA cases skipped")
    a = p.parse_args(argv)
    cuda = not a.dry_run
    if cuda and not torch.cuda.is_available():  # full-size models on a CPU would burn the whole budget
        raise SystemExit("no CUDA device visible to torch; use --dry-run on a CPU box")
    torch.backends.cudnn.benchmark = True  # torch picks its fastest conv per shape, as ORT's default does
    began = time.perf_counter()
    result: dict[str, Any] = {
        "machine": gm.machine_info(cuda),
        "dry_run": a.dry_run,
        "device": "cuda" if cuda else "cpu",
    }
    result.update(runs=a.runs or (3 if a.dry_run else 30), warmup=a.warmup or (1 if a.dry_run else 10))
    result.update(time_budget_s=a.time_budget_s, models={}, rows=[], skipped=[])

    def save() -> None:  # after every case: a run killed at its time limit still leaves its rows
        result.update(
            elapsed_s=round(time.perf_counter() - began, 1),
            goals=goals(result["rows"], result["machine"]["gpu"]),
        )
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=1))

    result.update(_began=began, _save=save)
    m = result["machine"]
    print(
        f"{m['gpu'] or m['cpu']}; onnxruntime {m['versions']['onnxruntime']} {m['ort_providers']}", flush=True
    )
    # no_grad rather than inference_mode: the ONNX exporter traces the modules
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        work = a.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in [m.strip() for m in a.models.split(",") if m.strip()]:
            bench_model(name, a, cuda, work, result)
    save()
    print_table(result["rows"])
    for g in result["goals"]:
        ratio = g.get("ratio_vs_torch_cudagraph")
        print(f"goal {g['model']} b{g['batch']}: {g['verdict']}; ORT/torch-graph {ratio}")
    print(f"elapsed {result['elapsed_s']} s; JSON: {a.out}")
    return {k: v for k, v in result.items() if not k.startswith("_")}


if __name__ == "__main__":
    main()
