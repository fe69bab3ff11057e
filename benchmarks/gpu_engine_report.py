"""The engine comparison's verdicts and table (``gpu_engine``): ORT fp16 at its best batch against
the stated goals and against torch's fp16 CUDA graph, from the same run."""

from __future__ import annotations

from typing import Any

GOALS = [("resnet50", 128, 9200.0, "img/s"), ("bert", 64, 15000.0, "seq/s")]  # stated for an H100


def goals(rows: list[dict[str, Any]], gpu: str | None) -> list[dict[str, Any]]:
    """ORT fp16 best (parity-checked rows only) vs the goal and vs torch fp16 CUDA graph, same batch."""
    found = []
    for model, batch, goal, unit in GOALS:
        at = [r for r in rows if r["model"] == model and r["batch"] == batch and r["status"] == "ok"]
        ok16 = [r for r in at if r["engine"].startswith("ort") and r["precision"].startswith("fp16")]
        ort = [r for r in ok16 if (r["parity"] or {}).get("ok")]
        tg = next((r["items_s"] for r in at if r["engine"] == "torch-cudagraph"), None)
        g: dict[str, Any] = {"model": model, "batch": batch, "goal_items_s": goal, "unit": unit}
        g.update(goal_card="H100", card=gpu, torch_cudagraph_fp16_items_s=tg, met=None)
        g["verdict"] = f"not measured: no parity-checked ORT fp16 row at batch {batch}"
        if ort:
            best = max(ort, key=lambda r: float(r["items_s"]))
            g["ort_fp16_best"] = {k: best[k] for k in ("engine", "precision", "io", "p50_ms", "items_s")}
            g.update(ratio_vs_goal=round(best["items_s"] / goal, 3), met=best["items_s"] >= goal)
            g["ratio_vs_torch_cudagraph"] = round(best["items_s"] / tg, 3) if tg else None
            g["verdict"] = f"{'met' if g['met'] else 'missed'}: {best['items_s']:,.0f} {unit} vs {goal:,.0f}"
        found.append(g)
    return found


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("model", "engine", "prec", "io", "b", "p50 ms", "p90 ms", "items/s")
    print("\n{:9} {:16} {:10} {:9} {:>4} {:>9} {:>9} {:>10}  note".format(*head))
    for r in rows:
        nums, par = f"{'-':>9} {'-':>9} {'-':>10}", r["parity"]
        note = str(r["error"])[:70]
        if r["status"] == "ok":
            nums = f"{r['p50_ms']:9.3f} {r['p90_ms']:9.3f} {r['items_s']:10,.0f}"
            note = f"parity {par.get('rel_to_max')}{'' if par.get('ok') else ' FAILED'}" if par else ""
        print(
            f"{r['model']:9} {r['engine']:16} {r['precision']:10} {r['io']:9} {r['batch']:4} {nums}  {note}"
        )
