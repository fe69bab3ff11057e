"""`modelserve up --api-workers 2`: two API processes on one port, one answer for /metrics, and
nothing left running after SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from modelserve.families.tabular.demo import export_demo_set
from modelserve.serve.ports import free_port
from tests.helpers import Proc, processes

pytestmark = pytest.mark.integration
PREDICT_200 = r'modelserve_requests_total{[^}]*route="/v1/models/{name}/predict"[^}]*status="200"[^}]*} (\S+)'


def _call(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"content-type": "application/json"} if body else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except OSError:
        return 0, b""


def _children(pid: int) -> list[Proc]:
    return [p for p in processes() if p.ppid == pid and p.state != "Z"]


def test_two_workers_answer_on_one_port_and_count_together(tmp_path):
    repo = tmp_path / "repo"
    model = export_demo_set(repo)[0]
    record = dict(zip(model.feature_names, (float(v) for v in model.sample[0]), strict=True))
    api_port, work = free_port(), tmp_path / "w"
    argv = [sys.executable, "-m", "modelserve", "up", "-r", str(repo), "--work-dir", str(work)]
    argv += ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]
    argv += ["--api-port", str(api_port), "--api-workers", "2"]
    env = {**os.environ, "MODELSERVE_MONITORING": "false"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 120
        while _call(f"{api}/ready")[0] != 200:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "up never got ready"
            time.sleep(0.5)
        workers = [p.pid for p in _children(proc.pid) if not p.argv[0].endswith(b"tritonserver")]
        assert len(workers) >= 2, workers  # the two API processes (uvicorn may add a helper)

        body = json.dumps(record).encode()
        url = f"{api}/v1/models/{model.name}/predict"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: _call(url, body), range(80)))
        assert {code for code, _ in answers} == {200}
        assert len({json.loads(a)["predictions"][0]["prediction"] for _, a in answers}) == 1

        # Whichever worker answers /metrics counts every worker's requests.
        for _ in range(4):
            code, text = _call(f"{api}/metrics")
            assert code == 200
            counted = sum(float(v) for v in re.findall(PREDICT_200, text.decode()))
            assert counted == 80
        pids = {f.split("_")[-1].split(".")[0] for f in os.listdir(work / "api-metrics")}
        assert len(pids) >= 2  # both workers wrote counters
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert _children(proc.pid) == []


def test_a_worker_that_fails_to_start_is_an_error_and_a_nonzero_exit(tmp_path):
    # uvicorn stops the other workers and returns as if all went well; we must not exit 0.
    (tmp_path / "policy.yaml").write_text("not: [a policy")
    argv = [sys.executable, "-m", "modelserve", "api", "--url", "127.0.0.1:1", "--work-dir", str(tmp_path)]
    argv += ["--api-port", str(free_port()), "--api-workers", "2"]
    env = {
        **os.environ,
        "MODELSERVE_MONITORING_URL": f"sqlite:///{tmp_path}/m.sqlite",
        "MODELSERVE_MONITORING_POLICY": str(tmp_path / "policy.yaml"),
    }
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == "error: an API worker failed to start (its error is above)"
