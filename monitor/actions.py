"""The actions degradation or drift trigger: a retraining job (a child process, so training never
stalls the API's event loop and a crash in it takes nothing else down) or a webhook."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from modelserve.monitor.policy import RetrainJob

OUTPUT_TAIL = 4000  # characters of the job's output kept in its event


@dataclass(frozen=True, kw_only=True)
class JobResult:
    ok: bool
    returncode: int | None
    seconds: float
    argv: list[str]
    result: dict[str, Any] | None  # the job's last stdout line, when it is JSON
    output_tail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain_argv(
    job: RetrainJob, *, model: str, repository: Path, triton_url: str, protocol: str, reason: str
) -> list[str]:
    """The command line: the configured one with placeholders filled, else ``modelserve monitor
    retrain`` (train + export a new version, gate it on metrics, promote it on Triton)."""
    if job.command:
        values = {"model": model, "repository": str(repository), "triton_url": triton_url, "reason": reason}
        return [part.format(**values) for part in job.command]
    argv = [sys.executable, "-m", "modelserve", "monitor", "retrain", model, "--json"]
    argv += ["--repository", str(repository), "--url", triton_url, "--protocol", protocol]
    argv += ["--min-f1", str(job.min_f1), "--max-drop", str(job.max_drop)]
    if job.data is not None:
        argv += ["--data", str(job.data)]
    if job.target is not None:
        argv += ["--target", job.target]
    for name in job.models:
        argv += ["--model", name]
    for column in job.drop:
        argv += ["--drop", column]
    return argv


async def run_job(argv: list[str], *, timeout_s: float) -> JobResult:
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as exc:
        return JobResult(ok=False, returncode=None, seconds=0.0, argv=argv, result=None, output_tail=str(exc))
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except (TimeoutError, asyncio.CancelledError) as exc:
        proc.kill()
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        out = f"killed after {timeout_s:.0f} s".encode()
    text = out.decode(errors="replace")
    lines = text.strip().splitlines()
    result = None
    if lines:
        try:
            parsed = json.loads(lines[-1])
            result = parsed if isinstance(parsed, dict) else None
        except json.JSONDecodeError:
            result = None
    return JobResult(
        ok=proc.returncode == 0,
        returncode=proc.returncode,
        seconds=time.monotonic() - start,
        argv=argv,
        result=result,
        output_tail=text[-OUTPUT_TAIL:],
    )


async def post_webhook(
    url: str, payload: dict[str, Any], *, timeout_s: float, tries: int = 3
) -> dict[str, Any]:
    """POST ``payload`` as JSON; retried with backoff on errors and 5xx. The outcome, never raises."""
    error = ""
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for attempt in range(tries):
            try:
                response = await client.post(url, json=payload)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    return {
                        "ok": response.is_success,
                        "http_status": response.status_code,
                        "attempts": attempt + 1,
                    }
                error = f"HTTP {response.status_code}"
            if attempt + 1 < tries:
                await asyncio.sleep(0.5 * 2**attempt)
    return {"ok": False, "error": error, "attempts": tries}
