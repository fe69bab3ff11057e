"""The GPU compose file and the API image, checked by structure (no Docker engine here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text()))


def test_triton_is_the_ngc_image_with_a_gpu_reservation():
    triton = _compose()["services"]["triton"]
    assert re.fullmatch(r"nvcr\.io/nvidia/tritonserver:\$\{TRITON_RELEASE:-\d\d\.\d\d\}-py3", triton["image"])
    devices = triton["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_the_repository_is_mounted_read_only_and_served_with_our_flags():
    triton = _compose()["services"]["triton"]
    assert "./model_repository:/models:ro" in triton["volumes"]
    command = triton["command"]
    assert "--model-repository=/models" in command
    assert "--strict-readiness=false" in command and "--model-control-mode=explicit" in command


def test_triton_health_check_uses_the_readiness_endpoint_and_ports_stay_internal():
    triton = _compose()["services"]["triton"]
    assert any("/v2/health/ready" in part for part in triton["healthcheck"]["test"])
    assert "ports" not in triton
    assert {"8000", "8001", "8002"} <= {str(p) for p in triton["expose"]}


def test_api_waits_for_a_healthy_triton_and_talks_grpc_inside_the_network():
    api = _compose()["services"]["api"]
    assert api["depends_on"]["triton"]["condition"] == "service_healthy"
    assert api["environment"]["MODELSERVE_TRITON_URL"] == "triton:8001"
    assert api["build"]["dockerfile"] == "Dockerfile"
    assert (
        "./model_repository:/models:ro" in api["volumes"]
        and api["environment"]["MODELSERVE_REPOSITORY"] == "/models"
    )


def test_api_image_runs_as_a_non_root_user():
    lines = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]
    users = [parts[1] for parts in lines if parts[0] == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_ports_override_publishes_on_loopback_only():
    override = yaml.safe_load((ROOT / "docker-compose.triton-ports.yml").read_text())
    assert all(p.startswith("127.0.0.1:") for p in override["services"]["triton"]["ports"])


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="docker compose plugin not installed here",
)
def test_docker_compose_accepts_the_file():
    subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.gpu.yml"), "config", "-q"], check=True
    )


def test_api_image_installs_the_namespace_with_the_api_tier():
    """No hand list of packages in the Dockerfile (one once missed monitor/): the whole context goes
    in, and .dockerignore keeps out what the API does not run."""
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY \. /src$", dockerfile, flags=re.MULTILINE)
    assert "pip install '/src[api,serve,postgres]'" in dockerfile  # the API's tier, no exporters
    assert not re.findall(r"^COPY (api|client|export|serve|monitor) ", dockerfile, flags=re.MULTILINE)
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {"benchmarks/results", "tests", "model_repository", ".venv", ".git"} <= ignored
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert include["include"] == ["modelserve*"]  # one namespace; its top-level folders are linked in
    linked = {p.name for p in (ROOT / "modelserve").iterdir() if p.is_symlink()}
    shipped = linked - ignored
    assert shipped >= {"api", "benchmarks", "client", "contracts", "export", "monitor", "serve"}
    assert all((ROOT / "modelserve" / package / "__init__.py").is_file() for package in shipped)


def test_monitoring_store_lives_on_a_volume():
    api = _compose()["services"]["api"]
    assert "/data/" in api["environment"]["MODELSERVE_MONITORING_URL"]
    assert any(v.startswith("monitoring:/data") for v in api["volumes"])
    assert "monitoring" in _compose()["volumes"]
