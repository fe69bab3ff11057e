"""benchmarks.gpu_engine: the dry run (tiny models, CPU EP) walks export, fp16 conversion, parity and the
JSON/table code paths that the one-shot GPU run depends on. No timing assertions: only that every case
is either measured or carries its reason."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from modelserve.benchmarks import gpu_engine, gpu_engine_report

MODELS = ("resnet50", "bert", "vgg16")


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_engine") / "dry.json"
    returned = gpu_engine.main(["--dry-run", "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["rows"] == returned["rows"]
    return written


@pytest.mark.slow
def test_every_model_has_rows_measured_or_explained(dry):
    assert dry["dry_run"] is True and dry["device"] == "cpu"
    for model in MODELS:
        rows = [r for r in dry["rows"] if r["model"] == model]
        assert rows, model
        for r in rows:
            if r["status"] == "ok":
                assert r["p50_ms"] > 0 and r["p90_ms"] >= r["p50_ms"] and r["items_s"] > 0, r
            else:
                assert r["status"] in ("error", "skipped") and r["error"], r
        # the paths a GPU run needs did run here
        assert {(r["engine"], r["precision"]) for r in rows if r["status"] == "ok"} >= {
            ("torch-eager", "fp32"),
            ("ort-cpu", "fp32"),
            ("ort-cpu", "fp16"),
        }, model
        ort_ok = [r for r in rows if r["status"] == "ok" and r["engine"] == "ort-cpu"]
        assert {r["io"] for r in ort_ok} == {"numpy", "iobinding"}
        # IO-binding outputs, read back after timing, match the plain session's
        assert all(r["vs_plain_session_rel"] < 1e-3 for r in ort_ok if r["io"] == "iobinding")


@pytest.mark.slow
def test_fp16_conversion_parity_is_sane(dry):
    for model in MODELS:
        parity = dry["models"][model]["parity"]
        assert parity["onnx_fp32_vs_torch_fp32"]["rel_to_max"] < 1e-3, model
        fp16 = parity["onnx_fp16_vs_onnx_fp32"]
        assert fp16["ok"] and 0 <= fp16["rel_to_max"] < 0.05, (model, fp16)
        key = (model, "ort-cpu", "fp16")
        rows = [r for r in dry["rows"] if (r["model"], r["engine"], r["precision"]) == key]
        assert rows and all(r["parity"]["check"] == "onnx_fp16_vs_onnx_fp32" for r in rows)
    # BERT's fused (ORT transformer optimizer) fp16 variant converts and matches too
    assert dry["models"]["bert"]["parity"]["onnx_fp16-fused_vs_onnx_fp32"]["ok"]
    assert "keep_io_types" in dry["models"]["bert"]["notes"]["fp16"]


@pytest.mark.slow
def test_cuda_only_rows_are_skipped_on_cpu_and_goals_say_not_measured(dry):
    cuda_rows = [r for r in dry["rows"] if gpu_engine.cuda_only(r["engine"])]
    assert {r["engine"] for r in cuda_rows} >= {"torch-cudagraph", "ort-cuda-graph", "ort-cpu-nhwc"}
    for r in cuda_rows:
        assert r["status"] == "skipped" and "CUDA" in r["error"], r
    assert not dry["skipped"]  # nothing cut by the time budget
    assert [g["model"] for g in dry["goals"]] == ["resnet50", "bert"]
    assert all(g["met"] is None and g["verdict"].startswith("not measured") for g in dry["goals"])
    machine = dry["machine"]
    assert machine["gpu"] is None and machine["versions"]["torch"] and machine["date_utc"]


def _row(engine, precision, items_s, ok=True, model="resnet50", batch=128):
    return {
        "model": model,
        "engine": engine,
        "precision": precision,
        "io": "iobinding",
        "batch": batch,
        "p50_ms": batch / items_s * 1e3,
        "items_s": items_s,
        "status": "ok",
        "parity": {"ok": ok},
    }


def test_goals_pick_best_parity_checked_ort_fp16_row():
    rows = [
        _row("torch-cudagraph", "fp16", 9184.0),
        _row("ort-cuda", "fp16", 8000.0),
        _row("ort-cuda-nhwc", "fp16", 9500.0),
        _row("ort-cuda", "fp32", 12000.0),  # fp32 never counts
        _row("ort-cuda", "fp16", 20000.0, ok=False),  # failed parity never counts
        _row("ort-cuda", "fp16-fused", 14000.0, model="bert", batch=64),
    ]
    resnet, bert = gpu_engine_report.goals(rows, "NVIDIA H100 80GB HBM3")
    assert resnet["met"] is True and resnet["ort_fp16_best"]["engine"] == "ort-cuda-nhwc"
    assert resnet["ratio_vs_goal"] == pytest.approx(9500 / 9200, abs=1e-3)
    assert resnet["ratio_vs_torch_cudagraph"] == pytest.approx(9500 / 9184, abs=1e-3)
    assert bert["met"] is False and bert["verdict"].startswith("missed")
    assert bert["ratio_vs_torch_cudagraph"] is None  # no torch graph row at b64: said, not invented
