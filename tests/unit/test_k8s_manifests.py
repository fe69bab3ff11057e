"""deploy/k8s: every kustomization renders with a real kustomize and passes strict schemas, and the
pods and Services say what the docs promise (compose's Triton flags, probes, shm, selectors)."""

from __future__ import annotations

import re
import shutil
import tomllib

import pytest
import yaml

from tests.k8s import (
    COMPOSE,
    CRD_KINDS,
    DOCS,
    K8S,
    KUBERNETES_VERSIONS,
    ROOT,
    SERVING,
    TARGETS,
    TRITON_EXTRA_FLAGS,
    compose_release,
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

WORKLOADS = ("Deployment", "Job", "CronJob")


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
    # Secrets: compose interpolates ${MODELSERVE_CONTROL_KEY:?...}, Kubernetes a Secret: same key.
    compose = [re.sub(r"\$\{MODELSERVE_CONTROL_KEY[^}]*\}", "<secret control-key>", a) for a in compose]
    assert args[1].split("=", 1)[1].startswith(repository)
    assert args[: len(compose)] == compose
    assert [_flag(a) for a in args[len(compose) :]] == list(TRITON_EXTRA_FLAGS)
    documented = DOCS.read_text()
    assert all(f"`{flag}" in documented for flag in TRITON_EXTRA_FLAGS)


@pytest.mark.parametrize("target", SERVING)
def test_triton_runs_the_release_compose_pins(target):
    triton = container(one(render(target), "Deployment", "triton"), "triton")
    assert triton["image"] == f"nvcr.io/nvidia/tritonserver:{compose_release()}-py3"


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
        "MODELSERVE_CONTROL_KEY": "modelserve-secrets",
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
