"""deploy/k8s beyond the pods: the autoscaling chain (rules, adapter, HPAs, monitors), the
lifecycle Jobs against the CLI, the KServe example, and the docs page that explains them."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.k8s import (
    COMPOSE,
    DOCS,
    K8S,
    SERVING,
    TARGETS,
    compose_release,
    container,
    containers,
    env_value,
    labels_match,
    of_kind,
    one,
    pod_template,
    render,
)

# --- autoscaling -------------------------------------------------------------------------------


def _adapter_metric(series: str) -> str | None:
    values = yaml.safe_load(
        (K8S / "components" / "autoscaling" / "prometheus-adapter-values.yaml").read_text()
    )
    for rule in values["rules"]["custom"]:
        if rule["seriesQuery"].split("{", 1)[0] != series:
            continue
        assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
        go_template = rule["name"]["as"]
        return re.sub(rule["name"]["matches"], re.sub(r"\$\{(\d+)\}", r"\\\1", go_template), series)
    return None


@pytest.mark.parametrize("target", SERVING)
def test_triton_hpa_metric_is_served_by_the_adapter_from_a_recorded_queue_over_compute_series(target):
    objects = render(target)
    hpa = one(objects, "HorizontalPodAutoscaler", "triton")
    assert hpa["apiVersion"] == "autoscaling/v2"
    rules = {
        r["record"]: r["expr"]
        for rule_set in of_kind(objects, "PrometheusRule")
        for g in rule_set["spec"]["groups"]
        for r in g["rules"]
    }
    served = {_adapter_metric(series): series for series in rules}
    pods_metrics = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods_metrics == ["triton_queue_compute_ratio"]
    expr = rules[served[pods_metrics[0]]]
    queue, compute = expr.split("/", 1)
    assert "nv_inference_queue_duration_us" in queue and "nv_inference_compute_infer_duration_us" in compute
    assert "by (namespace, pod)" in queue and "by (namespace, pod)" in compute


@pytest.mark.parametrize("target", SERVING)
def test_monitors_select_the_metrics_endpoints_that_exist(target):
    objects = render(target)
    monitor = one(objects, "ServiceMonitor", "triton")
    services = [
        s
        for s in of_kind(objects, "Service")
        if labels_match(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
    ]
    assert [s["metadata"]["name"] for s in services] == ["triton-metrics"]
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {
        p["name"] for p in services[0]["spec"]["ports"]
    }
    pod_monitor = one(objects, "PodMonitor", "modelserve-api")
    api = one(objects, "Deployment", "modelserve-api")
    assert labels_match(
        pod_monitor["spec"]["selector"]["matchLabels"], api["spec"]["template"]["metadata"]["labels"]
    )
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] in {
        p["name"] for p in container(api, "api")["ports"]
    }


@pytest.mark.parametrize("target", SERVING)
def test_deployments_an_hpa_scales_carry_no_replica_count(target):
    objects = render(target)
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")}
    assert scaled == {"triton", "modelserve-api"}
    for name in scaled:
        assert "replicas" not in one(objects, "Deployment", name)["spec"]


# --- lifecycle jobs and KServe -----------------------------------------------------------------


def _cli_options() -> dict[str, set[str]]:
    """`modelserve models` verbs and their options, from the Typer app (its own click, duck-typed)."""
    import typer

    from modelserve.cli.app import app

    models: Any = typer.main.get_command(app).commands["models"]  # type: ignore[attr-defined]
    return {
        name: {o for p in cmd.params for o in getattr(p, "opts", [])} for name, cmd in models.commands.items()
    }


def test_lifecycle_jobs_call_verbs_and_options_the_cli_has_or_the_docs_announce():
    options = _cli_options()
    promote = render("promote")
    job = container(one(promote, "Job", "modelserve-promote"), "lifecycle")
    config = of_kind(promote, "ConfigMap")[0]["data"]
    assert job["command"] == ["modelserve"]
    assert job["args"][:4] == ["models", "$(ACTION)", "$(MODEL_NAME)", "$(MODEL_VERSION)"]
    assert config["ACTION"] in {"promote", "rollback", "retire"} <= set(options)
    assert {"--url", "--repository"} <= options[config["ACTION"]]
    reconcile = container(one(render("reconcile"), "CronJob", "modelserve-reconcile"), "reconcile")
    verb = reconcile["args"][1]
    assert verb == "reconcile" and {"--url", "--repository"} <= options[verb]
    assert len(reconcile["args"]) == 6  # no model name: every model with a served version


def test_only_the_promote_job_mounts_the_repository_writable():
    for target in sorted(TARGETS):
        for obj in render(target):
            template = pod_template(obj)
            if template is None:
                continue
            writable = [
                m["mountPath"]
                for c in containers(template["spec"])
                for m in c.get("volumeMounts", [])
                if m["mountPath"] == "/models" and not m.get("readOnly")
            ]
            claims = [v for v in template["spec"].get("volumes", []) if "persistentVolumeClaim" in v]
            if obj["metadata"]["name"] == "modelserve-promote":
                assert writable == ["/models"] and not claims[0]["persistentVolumeClaim"].get("readOnly")
            elif claims:
                assert writable == [], (target, obj["metadata"]["name"])


def test_jobs_reach_triton_like_the_api():
    for target, kind, name, ctr in (
        ("promote", "Job", "modelserve-promote", "lifecycle"),
        ("reconcile", "CronJob", "modelserve-reconcile", "reconcile"),
    ):
        objects = render(target)
        job = container(one(objects, kind, name), ctr)
        assert (
            env_value(objects, job, "MODELSERVE_TRITON_URL")
            == "dns:///triton-grpc.modelserve.svc.cluster.local:8001"
        )
        assert "$(MODELSERVE_TRITON_URL)" in job["args"]


def test_kserve_example_runs_the_triton_runtime_at_the_pinned_release():
    service = one(render("kserve"), "InferenceService", "modelserve")
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = service["spec"]["predictor"]
    model = predictor["model"]
    assert model["runtime"] == "kserve-tritonserver" and model["modelFormat"]["name"] == "triton"
    assert model["runtimeVersion"] == f"{compose_release()}-py3"
    assert 0 <= predictor["canaryTrafficPercent"] <= 100
    assert set(model["args"]) <= set(COMPOSE["services"]["triton"]["command"])
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"


def test_docs_page_names_every_target_and_what_needs_a_cluster():
    text = DOCS.read_text()
    for path in TARGETS.values():
        if path != ".":
            assert f"deploy/k8s/{path}" in text, path
    assert "## What is verified here" in text and "## What only a cluster can verify" in text
