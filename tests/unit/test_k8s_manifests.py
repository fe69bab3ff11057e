"""deploy/k8s: every kustomization renders with a real kustomize and passes strict schemas, and the
objects say what the docs promise (compose's Triton flags, probes, shm, selectors, autoscaling)."""

from __future__ import annotations

import re
import shutil
import tomllib
from typing import Any

import pytest
import yaml

from tests.k8s import (
    CRD_KINDS,
    K8S,
    KUBERNETES_VERSIONS,
    ROOT,
    SERVING,
    TARGETS,
    TRITON_EXTRA_FLAGS,
    container,
    containers,
    env_value,
    expand,
    labels_match,
    of_kind,
    one,
    pod_template,
    render,
    render_dir,
    schema_errors,
)

DOCS = ROOT / "docs" / "deploy-kubernetes.md"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())
WORKLOADS = ("Deployment", "Job", "CronJob")


def _compose_release() -> str:
    image = COMPOSE["services"]["triton"]["image"]
    match = re.fullmatch(r"nvcr\.io/nvidia/tritonserver:\$\{TRITON_RELEASE:-(\d\d\.\d\d)\}-py3", image)
    assert match, image
    return match.group(1)


def _flag(arg: str) -> str:
    return arg.split("=", 1)[0]


# --- rendering and schemas ---------------------------------------------------------------------


def test_every_kustomization_a_deployer_applies_is_rendered_here():
    found = set()
    for path in K8S.rglob("kustomization.yaml"):
        if yaml.safe_load(path.read_text())["kind"] == "Kustomization":
            found.add(path.parent.relative_to(K8S).as_posix())
    assert found == set(TARGETS.values())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_renders_objects_with_names_and_kinds(target):
    objects = render(target)
    assert objects
    assert all(o.get("apiVersion") and o.get("kind") and o["metadata"].get("name") for o in objects)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_object_passes_strict_schema_validation(target, version):
    assert schema_errors(render(target), version) == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_validation_rejects_a_misspelled_field_and_an_unknown_kind(version):
    objects = render("gpu")
    triton = one(objects, "Deployment", "triton")
    triton["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"exec": {"command": ["true"]}}
    objects.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    errors = schema_errors(objects, version)
    assert len(errors) == 2
    assert "livenesProbe" in errors[0] and "Widget/w: no schema" in errors[1]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_custom_resources_are_only_the_named_crds(target):
    core = re.compile(r"^(v1|(apps|batch|policy|autoscaling|networking\.k8s\.io)/v\d+)$")
    custom = {o["kind"] for o in render(target) if not core.match(o["apiVersion"])}
    assert custom <= CRD_KINDS


@pytest.mark.parametrize("target", SERVING)
def test_namespaced_objects_share_the_overlay_namespace(target):
    objects = render(target)
    namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
    assert namespaces == {one(objects, "Namespace", "modelserve")["metadata"]["name"]}


# --- Triton ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", SERVING)
def test_triton_args_are_the_compose_command_plus_the_documented_extras(target):
    objects = render(target)
    triton = container(one(objects, "Deployment", "triton"), "triton")
    assert "command" not in triton  # the image's entrypoint runs, as under compose
    args = [expand(objects, triton, a) for a in triton["args"]]
    compose = list(COMPOSE["services"]["triton"]["command"])
    repository = "s3://" if target == "object-storage" else "/models"
    compose = [
        f"--model-repository={args[1].split('=', 1)[1]}" if a.startswith("--model-repository=") else a
        for a in compose
    ]
    assert args[1].split("=", 1)[1].startswith(repository)
    assert args[: len(compose)] == compose
    assert [_flag(a) for a in args[len(compose) :]] == list(TRITON_EXTRA_FLAGS)
    documented = DOCS.read_text()
    assert all(f"`{flag}" in documented for flag in TRITON_EXTRA_FLAGS)


@pytest.mark.parametrize("target", SERVING)
def test_triton_runs_the_release_compose_pins(target):
    triton = container(one(render(target), "Deployment", "triton"), "triton")
    assert triton["image"] == f"nvcr.io/nvidia/tritonserver:{_compose_release()}-py3"


@pytest.mark.parametrize("target", SERVING)
def test_triton_mounts_a_memory_backed_shm_of_at_least_compose_size(target):
    deployment = one(render(target), "Deployment", "triton")
    spec = deployment["spec"]["template"]["spec"]
    mount = [m for m in container(deployment, "triton")["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    assert len(mount) == 1
    volume = next(v for v in spec["volumes"] if v["name"] == mount[0]["name"])
    assert volume["emptyDir"]["medium"] == "Memory"
    assert COMPOSE["services"]["triton"]["shm_size"] == "1g" and volume["emptyDir"]["sizeLimit"] == "1Gi"


@pytest.mark.parametrize("target", SERVING)
def test_triton_probes_use_readiness_for_startup_and_liveness_for_liveness(target):
    triton = container(one(render(target), "Deployment", "triton"), "triton")
    ports = {p["name"]: p["containerPort"] for p in triton["ports"]}
    assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002}
    probes = {kind: triton[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes["startupProbe"]["path"] == probes["readinessProbe"]["path"] == "/v2/health/ready"
    assert probes["livenessProbe"]["path"] == "/v2/health/live"
    assert all(p["port"] == "http" for p in probes.values())
    startup = triton["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300  # slow model loads


@pytest.mark.parametrize("target", SERVING)
def test_termination_grace_outlasts_prestop_and_triton_exit_timeout(target):
    deployment = one(render(target), "Deployment", "triton")
    triton = container(deployment, "triton")
    exit_timeout = int(next(a for a in triton["args"] if a.startswith("--exit-timeout-secs=")).split("=")[1])
    pre_stop = triton["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > exit_timeout + int(pre_stop[1])


@pytest.mark.parametrize("target", ("default", "gpu", "cpu"))
def test_triton_and_api_mount_the_repository_claim_read_only(target):
    objects = render(target)
    claim = one(objects, "PersistentVolumeClaim", "model-repository")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for name, ctr in (("triton", "triton"), ("modelserve-api", "api")):
        deployment = one(objects, "Deployment", name)
        mount = next(m for m in container(deployment, ctr)["volumeMounts"] if m["mountPath"] == "/models")
        volume = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
        assert mount["readOnly"] is True
        assert volume[0]["persistentVolumeClaim"] == {"claimName": "model-repository", "readOnly": True}


def test_object_storage_triton_reads_s3_with_credentials_and_no_claim():
    objects = render("object-storage")
    assert of_kind(objects, "PersistentVolumeClaim") == []
    deployment = one(objects, "Deployment", "triton")
    triton = container(deployment, "triton")
    assert env_value(objects, triton, "TRITON_MODEL_REPOSITORY").startswith("s3://")
    assert [e["secretRef"]["name"] for e in triton["envFrom"]] == ["object-storage-credentials"]
    assert "/models" not in {m["mountPath"] for m in triton["volumeMounts"]}
    api = one(objects, "Deployment", "modelserve-api")
    spec = api["spec"]["template"]["spec"]
    assert next(v for v in spec["volumes"] if v["name"] == "model-repository") == {
        "name": "model-repository",
        "emptyDir": {"sizeLimit": "5Gi"},
    }
    sync = [c for c in containers(spec) if c["name"].startswith("repository-sync")]
    assert {c["name"] for c in sync} == {"repository-sync", "repository-sync-once"}
    for ctr in sync:
        assert env_value(objects, ctr, "SYNC_SOURCE") == env_value(objects, triton, "TRITON_MODEL_REPOSITORY")
        assert '--exclude "*.onnx"' in ctr["args"][0]


def test_gpu_overlay_asks_for_one_gpu_and_the_cpu_overlay_for_none():
    gpu = container(one(render("gpu"), "Deployment", "triton"), "triton")
    cpu_deployment = one(render("cpu"), "Deployment", "triton")
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in str(cpu_deployment)
    assert render("default") == render("gpu")


@pytest.mark.parametrize("target", sorted(set(TARGETS) - {"base"}))  # the overlays size Triton
def test_every_container_requests_cpu_and_memory_and_limits_memory(target):
    for obj in render(target):
        template = pod_template(obj) if obj["kind"] != "InferenceService" else None
        specs = [c for c in containers(template["spec"])] if template else []
        if obj["kind"] == "InferenceService":
            specs = [obj["spec"]["predictor"]["model"]]
        for ctr in specs:
            resources = ctr.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), (obj["kind"], ctr.get("name"))
            assert "memory" in resources.get("limits", {}), (obj["kind"], ctr.get("name"))


# --- API and Services --------------------------------------------------------------------------


@pytest.mark.parametrize("target", SERVING)
def test_api_reaches_every_triton_pod_through_the_headless_service(target):
    objects = render(target)
    headless = one(objects, "Service", "triton-grpc")
    assert headless["spec"]["clusterIP"] == "None"
    port = next(p["port"] for p in headless["spec"]["ports"] if p["name"] == "grpc")
    namespace = headless["metadata"]["namespace"]
    api = container(one(objects, "Deployment", "modelserve-api"), "api")
    url = env_value(objects, api, "MODELSERVE_TRITON_URL")
    assert url == f"dns:///triton-grpc.{namespace}.svc.cluster.local:{port}"
    assert env_value(objects, api, "MODELSERVE_TRITON_PROTOCOL") == "grpc"


def test_the_triton_url_follows_a_changed_namespace(tmp_path):
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    overlay = copy / "overlays" / "cpu" / "kustomization.yaml"
    text = overlay.read_text()
    assert "\nnamespace: modelserve\n" in text
    overlay.write_text(text.replace("\nnamespace: modelserve\n", "\nnamespace: ml-prod\n"))
    objects = render_dir(copy / "overlays" / "cpu")
    api = container(one(objects, "Deployment", "modelserve-api"), "api")
    assert (
        env_value(objects, api, "MODELSERVE_TRITON_URL")
        == "dns:///triton-grpc.ml-prod.svc.cluster.local:8001"
    )


@pytest.mark.parametrize("target", SERVING)
def test_api_secrets_probes_and_replicas(target):
    objects = render(target)
    deployment = one(objects, "Deployment", "modelserve-api")
    api = container(deployment, "api")
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in api["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert secrets == {
        "MODELSERVE_MONITORING_URL": "modelserve-secrets",
        "MODELSERVE_API_KEY": "modelserve-secrets",
    }
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    hpa = one(objects, "HorizontalPodAutoscaler", "modelserve-api")
    assert hpa["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_selectors_match_the_pod_labels_they_are_meant_for(target):
    objects = render(target)
    templates = {
        o["metadata"]["name"]: pod_template(o)["metadata"]["labels"]  # type: ignore[index]
        for o in objects
        if o["kind"] in WORKLOADS
    }
    for obj in of_kind(objects, "Deployment"):
        labels = templates[obj["metadata"]["name"]]
        assert labels_match(obj["spec"]["selector"]["matchLabels"], labels)
        for spread in obj["spec"]["template"]["spec"].get("topologySpreadConstraints", []):
            assert labels_match(spread["labelSelector"]["matchLabels"], labels)
    for obj in of_kind(objects, "Service") + of_kind(objects, "PodDisruptionBudget"):
        selector = obj["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        matched = [name for name, labels in templates.items() if labels_match(selector, labels)]
        assert len(matched) == 1, (obj["kind"], obj["metadata"]["name"], matched)
    for service in of_kind(objects, "Service"):
        target_ports = {p["targetPort"] for p in service["spec"]["ports"]}
        deployment = next(
            d
            for d in of_kind(objects, "Deployment")
            if labels_match(service["spec"]["selector"], templates[d["metadata"]["name"]])
        )
        named = {
            p["name"]
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        assert target_ports <= named
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        assert one(objects, ref["kind"], ref["name"])["apiVersion"] == ref["apiVersion"]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_no_image_is_latest_or_untagged_and_the_api_image_follows_pyproject(target):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = []
    for obj in render(target):
        template = pod_template(obj)
        if template is not None:
            images += [c["image"] for c in containers(template["spec"])]
    assert images or target == "kserve"
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), image
        if name.endswith("/modelserve-api"):
            assert tag == version


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_pod_meets_the_restricted_pod_security_standard(target):
    for obj in render(target):
        template = pod_template(obj)
        if template is None:
            continue
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert not any("hostPath" in v for v in pod.get("volumes", []))
        assert not pod.get("hostNetwork") and not pod.get("hostIPC") and not pod.get("hostPID")
        for ctr in containers(pod):
            security = ctr["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, ctr["name"]
            assert security["capabilities"]["drop"] == ["ALL"], ctr["name"]
            assert not security.get("privileged"), ctr["name"]


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

    from modelserve.cli import app

    models: Any = typer.main.get_command(app).commands["models"]  # type: ignore[attr-defined]
    return {
        name: {o for p in cmd.params for o in getattr(p, "opts", [])} for name, cmd in models.commands.items()
    }


# Verbs the Jobs call that issue 13's multi-replica work adds; the docs say so.
PENDING_VERBS = {"reconcile"}


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
    assert verb in options or verb in PENDING_VERBS
    if verb not in options:
        assert f"modelserve models {verb}" in DOCS.read_text()


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
    assert model["runtimeVersion"] == f"{_compose_release()}-py3"
    assert 0 <= predictor["canaryTrafficPercent"] <= 100
    assert set(model["args"]) <= set(COMPOSE["services"]["triton"]["command"])
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"


def test_docs_page_names_every_target_and_what_needs_a_cluster():
    text = DOCS.read_text()
    for path in TARGETS.values():
        if path != ".":
            assert f"deploy/k8s/{path}" in text, path
    assert "## What is verified here" in text and "## What only a cluster can verify" in text
