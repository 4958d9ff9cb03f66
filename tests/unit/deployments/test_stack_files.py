"""The container and Kubernetes files, checked without Docker or a cluster (none exists
here): the compose file against the compose-spec schema (check-jsonschema's vendored
copy), every file it and the Dockerfile name, the Kubernetes manifests against their
schemas (kubernetes-validate), the Prometheus and Alertmanager configurations by promtool
and amtool, the Grafana provisioning against the dashboard, and the wiring: JUICE_*
names, the API following the registry through the MLflow server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from juice.adapters.processes import free_port, http_server
from juice.monitoring.prometheus import RULES, render_alertmanager_config
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

DEPLOYMENTS = PROJECT_ROOT / "deployments"
COMPOSE_FILE = DEPLOYMENTS / "compose.yaml"
DOCKERFILE = DEPLOYMENTS / "Dockerfile"
K8S = DEPLOYMENTS / "k8s"
GRAFANA = DEPLOYMENTS / "grafana"
KUBERNETES_VERSION = "1.33.0"  # a release cloud providers run in 2026
NOT_MANIFESTS = {"kustomization.yaml", "prefect-worker-values.yaml"}
SETTINGS = {f"JUICE_{name.upper()}" for name in Settings.model_fields}
SCRAPE_JOBS = {"juice_service", "pushgateway"}  # the job labels rules.yml selects on


def tool(name: str) -> str:
    # The environment's own first (check-jsonschema), then the system's (promtool, amtool).
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing (`make install` / `make system`)")
    return found


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every Kubernetes manifest in deployments/k8s."""
    return [(path.name, document) for path in sorted(K8S.glob("*.yaml"))
            if path.name not in NOT_MANIFESTS
            for document in yaml.safe_load_all(path.read_text()) if document]  # fmt: skip


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return list(pod.get("containers", []))


# --- compose ------------------------------------------------------------------------------


def test_the_compose_file_passes_the_compose_spec_schema():
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_refuses_a_broken_compose_file(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  api:\n    image: x\n    restart: sometimes\n    prots: [1]\n")
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "prots" in done.stdout + done.stderr


def test_compose_refers_only_to_files_that_exist():
    named_volumes = set(compose()["volumes"])
    for name, service in compose()["services"].items():
        if build := service.get("build"):
            context = (DEPLOYMENTS / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context}"
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):  # a bind mount from the repository
                assert (DEPLOYMENTS / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in named_volumes, f"{name}: volume {source} is not declared"


def test_compose_services_name_services_that_exist():
    services = compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on", [])
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on {other}"
        if mode := service.get("network_mode", "").removeprefix("service:"):
            assert mode in services, f"{name} shares the network of {mode}"


def test_compose_names_no_one_shot_in_depends_on():
    """Podman (4.3) starts a service's dependencies with it, so a one-shot named there runs
    again; podman-compose waits a plain entry until it runs, which a one-shot never does
    again; and a service that requires an exited one-shot is not restarted after a crash.
    So one-shots are named by none: what needs their work waits for it (deployments/wait.py)."""
    services = compose()["services"]
    one_shots = {name for name, service in services.items() if service.get("restart") == "no"}
    assert {"bootstrap", "monitoring-secrets"} <= one_shots
    for name, service in services.items():
        depends = service.get("depends_on", [])
        assert not one_shots & set(depends), name
        assert isinstance(depends, list), f"{name}: podman 4.3 ignores conditions"


def test_compose_mounts_the_repositorys_monitoring_files():
    """Prometheus in compose loads deployments/prometheus/rules.yml itself (no copy), next
    to its configuration; Alertmanager and Grafana their files."""
    mounts = {name: {volume.split(":")[0]: volume.split(":")[1]
                     for volume in service.get("volumes", [])}
              for name, service in compose()["services"].items()}  # fmt: skip
    assert (DEPLOYMENTS / "prometheus" / "rules.yml") == RULES
    assert mounts["prometheus"]["./prometheus/rules.yml"] == "/etc/prometheus/rules.yml"
    assert mounts["prometheus"]["./compose/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert "./compose/alertmanager.yml" in mounts["alertmanager"]
    assert mounts["grafana"]["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_every_juice_variable_in_compose_and_kubernetes_is_a_setting():
    """An unknown JUICE_* name stops the process at start: catch the typo here."""
    names: set[str] = set()
    for service in compose()["services"].values():
        names |= set(service.get("environment", {}))
    for _, document in manifests():
        if document["kind"] == "ConfigMap" and document["metadata"]["name"] == "juice-settings":
            names |= set(document["data"])
        for container in containers(document):
            names |= {variable["name"] for variable in container.get("env", [])}
    juice = {name for name in names if name.startswith("JUICE_")}
    assert juice, "no JUICE_* setting found"
    assert juice <= SETTINGS, f"not settings: {sorted(juice - SETTINGS)}"


def test_the_compose_api_follows_the_registry_through_the_mlflow_server():
    services = compose()["services"]
    api, mlflow = services["api"], services["mlflow"]
    # Served from the bento's source (`service:PolJuice`), not the bento itself, which
    # would serve the model packed in it forever.
    assert api["command"][:3] == ["bentoml", "serve", "service:PolJuice"]
    assert api["environment"]["JUICE_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "--port=5000" in mlflow["command"]
    assert any(arg.startswith("--allowed-hosts=mlflow,") for arg in mlflow["command"])
    for name in ("bootstrap", "flows"):  # trainings and promotions go to the same server
        environment = services[name]["environment"]
        assert environment["JUICE_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert environment["JUICE_API_URL"] == "http://api:3000"  # the drift loop's smoke test
        assert environment["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert "deployments.experiments" in services["bootstrap"]["command"][-1]


def test_the_dockerfile_copies_files_that_exist_and_are_sent():
    """Every COPY source exists in the repository and passes Dockerfile.dockerignore (which
    excludes everything but what it names)."""
    ignore = (DEPLOYMENTS / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[[line.startswith("#") for line in ignore].index(False)] == "*"
    sent = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [line.split()[1:-1] for line in DOCKERFILE.read_text().splitlines()
              if line.startswith("COPY ") and "--from=" not in line]  # fmt: skip
    sources = [source.rstrip("/") for sources in copies for source in sources]
    assert "uv.lock" in sources
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), source
        assert source in sent, f"{source} is excluded by Dockerfile.dockerignore"
    assert "uv sync --frozen --no-dev" in DOCKERFILE.read_text()  # from the lock, as it is


# --- Prometheus and Alertmanager -------------------------------------------------------------


def kubernetes_prometheus_config() -> dict[str, Any]:
    [config] = [document["data"]["prometheus.yml"] for _, document in manifests()
                if document["kind"] == "ConfigMap"
                and document["metadata"]["name"] == "prometheus-config"]  # fmt: skip
    return yaml.safe_load(config)


def with_file_discovery(config: dict[str, Any], targets: Path) -> dict[str, Any]:
    """The configuration with Kubernetes pod discovery replaced by file discovery of the
    same target labels: Debian's Prometheus and promtool are built without Kubernetes
    discovery (they refuse `kubernetes_sd_configs`); the relabelling is what matters."""
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "1s"}]
    return config


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_promtool_accepts_the_prometheus_config_with_the_rules(where, tmp_path):
    targets = tmp_path / "pods.json"
    targets.write_text("[]")
    config = (yaml.safe_load((DEPLOYMENTS / "compose" / "prometheus.yml").read_text())
              if where == "compose"
              else with_file_discovery(kubernetes_prometheus_config(), targets))  # fmt: skip
    [rules] = config["rule_files"]
    assert Path(rules).name == "rules.yml"
    config["rule_files"] = ["rules.yml"]  # the mounted copy, beside the file here
    shutil.copyfile(RULES, tmp_path / "rules.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = run(tool("promtool"), "check", "config", tmp_path / "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_prometheus_config_scrapes_the_jobs_rules_and_dashboard_name(where):
    config = (yaml.safe_load((DEPLOYMENTS / "compose" / "prometheus.yml").read_text())
              if where == "compose" else kubernetes_prometheus_config())  # fmt: skip
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == SCRAPE_JOBS
    assert jobs["pushgateway"]["honor_labels"] is True  # keeps job="juice_drift_check"
    assert "honor_labels" not in jobs["juice_service"]
    rules = RULES.read_text()
    dashboard = (GRAFANA / "dashboards" / "poljuice.json").read_text()
    for job in SCRAPE_JOBS:
        assert f'job="{job}"' in rules
    assert 'job=\\"juice_service\\"' in dashboard


def test_kubernetes_prometheus_finds_each_api_pod():
    [service] = [job for job in kubernetes_prometheus_config()["scrape_configs"]
                 if job["job_name"] == "juice_service"]  # fmt: skip
    assert service["kubernetes_sd_configs"][0]["role"] == "pod"
    kept = {tuple(rule["source_labels"]): rule["regex"] for rule in service["relabel_configs"]
            if rule.get("action") == "keep"}  # fmt: skip
    [api] = [
        document
        for _, document in manifests()
        if document["kind"] == "Deployment" and document["metadata"]["name"] == "api"
    ]
    template = api["spec"]["template"]["metadata"]
    label = template["labels"]["app.kubernetes.io/component"]
    assert kept[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)] == label
    assert kept[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)] == "true"
    assert template["annotations"]["prometheus.io/scrape"] == "true"
    [port] = containers(api)[0]["ports"]
    assert template["annotations"]["prometheus.io/port"] == str(port["containerPort"])


def pod(name: str, address: str, component: str, **annotations: str) -> dict[str, Any]:
    """A pod as Kubernetes pod discovery describes it (its __meta_ labels)."""
    labels = {"__meta_kubernetes_pod_name": name,
              "__meta_kubernetes_pod_label_app_kubernetes_io_component": component,
              "__meta_kubernetes_pod_label_pod_template_hash": "7d9f"}  # fmt: skip
    for key, value in annotations.items():
        labels[f"__meta_kubernetes_pod_annotation_prometheus_io_{key}"] = value
    return {"targets": [address], "labels": labels}


def test_kubernetes_prometheus_scrapes_each_api_pod_on_its_annotated_port(tmp_path):
    """A real Prometheus relabels discovered pods: each annotated API pod is a target of
    its own, named by its pod, on the port and path its annotations give; other pods and
    API pods that opt out are dropped."""
    targets = tmp_path / "pods.json"
    targets.write_text(json.dumps([
        pod("api-7d9f-a", "10.1.0.5:8080", "api", scrape="true", port="3000", path="/metrics"),
        pod("api-7d9f-b", "10.1.0.6", "api", scrape="true", port="3000", path="/metrics"),
        pod("api-7d9f-c", "10.1.0.7:3000", "api", scrape="false", port="3000"),
        pod("ui-5c4b-a", "10.1.0.8:7860", "ui", scrape="true", port="7860"),
    ]))  # fmt: skip
    config = with_file_discovery(kubernetes_prometheus_config(), targets)
    config["scrape_configs"] = [j for j in config["scrape_configs"]
                                if j["job_name"] == "juice_service"]  # fmt: skip
    del config["rule_files"], config["alerting"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [tool("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
               f"--storage.tsdb.path={tmp_path / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with http_server(command, f"{url}/-/ready", timeout=30):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = httpx.get(f"{url}/api/v1/targets").json()["data"]
            if found["activeTargets"]:
                break
            time.sleep(0.2)
    scraped = {t["labels"]["instance"]: t["scrapeUrl"] for t in found["activeTargets"]}
    assert scraped == {"api-7d9f-a": "http://10.1.0.5:3000/metrics",
                       "api-7d9f-b": "http://10.1.0.6:3000/metrics"}  # fmt: skip
    assert {t["labels"]["job"] for t in found["activeTargets"]} == {"juice_service"}


def test_compose_alertmanager_is_the_template_filled_in_and_passes_amtool(tmp_path):
    path = DEPLOYMENTS / "compose" / "alertmanager.yml"
    settings = Settings(home=tmp_path)
    rendered = render_alertmanager_config(settings).replace(
        str(settings.monitoring_secret_file),
        "/secrets/monitoring",  # mounted there in compose
    )
    assert yaml.safe_load(path.read_text()) == yaml.safe_load(rendered)
    done = run(tool("amtool"), "check-config", path)
    assert done.returncode == 0, done.stdout + done.stderr


# --- Kubernetes -------------------------------------------------------------------------------


def manifest_id(entry: tuple[str, dict[str, Any]]) -> str:
    name, document = entry
    return f"{name}:{document['kind']}/{document['metadata']['name']}"


@pytest.mark.parametrize("entry", manifests(), ids=manifest_id)
def test_every_kubernetes_manifest_validates_against_its_schema(entry):
    _, document = entry
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest():
    [(_, api)] = [(n, d) for n, d in manifests()
                  if d["kind"] == "Deployment" and d["metadata"]["name"] == "api"]  # fmt: skip
    broken = json.loads(json.dumps(api))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = json.loads(json.dumps(api))
    broken["spec"]["template"]["spec"]["containers"][0]["portz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {path.name for path in K8S.glob("*.yaml")} - NOT_MANIFESTS
    assert set(kustomization["resources"]) == files
    namespaces = {
        d["metadata"].get("namespace") for _, d in manifests() if d["kind"] != "Namespace"
    }
    assert namespaces == {kustomization["namespace"]}


def test_the_kubernetes_api_follows_the_registry_and_scales_on_cpu():
    by_kind = {(d["kind"], d["metadata"]["name"]): d for _, d in manifests()}
    [api] = containers(by_kind[("Deployment", "api")])
    assert api["command"][:3] == ["bentoml", "serve", "service:PolJuice"]
    env = {variable["name"]: variable for variable in api["env"]}
    reference = env["JUICE_MLFLOW_TRACKING_URI"]["valueFrom"]["configMapKeyRef"]
    settings = by_kind[("ConfigMap", reference["name"])]["data"]
    assert settings[reference["key"]] == "http://mlflow:5000"
    [mlflow_port] = by_kind[("Service", "mlflow")]["spec"]["ports"]
    assert mlflow_port["port"] == 5000
    hpa = by_kind[("HorizontalPodAutoscaler", "api")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "api"
    assert hpa["minReplicas"] >= 2
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert api["resources"]["requests"]["cpu"]  # utilisation is a share of the request


def test_the_work_pool_template_renders_to_a_valid_job():
    """Prefect's own templating fills the base job template as a worker does; the result
    is a valid Job running the flow from /app with the JUICE_* settings."""
    from prefect.utilities.templating import apply_values

    template = json.loads((K8S / "prefect-work-pool.json").read_text())
    defaults = {name: spec["default"]
                for name, spec in template["variables"]["properties"].items()
                if "default" in spec}  # fmt: skip
    values = defaults | {"name": "drift-check-abc", "command": "prefect flow-run execute",
                         "env": {"PREFECT__FLOW_RUN_ID": "1"}, "labels": {"run": "1"}}  # fmt: skip
    job = apply_values(template["job_configuration"]["job_manifest"], values)
    job["spec"]["template"]["spec"]["containers"][0]["args"] = values["command"].split()
    job["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": key, "value": value} for key, value in values["env"].items()
    ]
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    [container] = containers(job)
    assert container["workingDir"] == "/app"
    settings_and_token = [{"configMapRef": {"name": "juice-settings"}},
                          {"secretRef": {"name": "juice-api"}}]  # fmt: skip
    assert container["envFrom"] == settings_and_token  # the token: for the smoke test
    assert job["metadata"]["namespace"] == "poljuice"
    [volume] = job["spec"]["template"]["spec"]["volumes"]
    claims = {d["metadata"]["name"] for _, d in manifests() if d["kind"] == "PersistentVolumeClaim"}
    assert volume["persistentVolumeClaim"]["claimName"] in claims
    worker = yaml.safe_load((K8S / "prefect-worker-values.yaml").read_text())["worker"]
    assert worker["config"]["workPool"] in (K8S / "prefect.yaml").read_text()
    assert worker["config"]["type"] == "kubernetes"


# --- Grafana ----------------------------------------------------------------------------------


def test_every_panel_queries_the_provisioned_datasource():
    [source] = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"  # the compose service
    dashboard = json.loads((GRAFANA / "dashboards" / "poljuice.json").read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == source["uid"]
    used = {name for panel in panels for target in panel["targets"]
            for name in re.findall(r"\$\{?(\w+)", target["expr"])}  # fmt: skip
    declared = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert used - declared <= {"__rate_interval", "__interval", "__range"}


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it():
    [provider] = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "poljuice.yml").read_text()
    )["providers"]
    grafana = compose()["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == Path(provider["options"]["path"])
    assert (GRAFANA / "dashboards" / home.name).is_file()


def test_kubernetes_runs_the_images_compose_runs():
    """The images proven under compose (built by make-images.sh) are the cluster's, pushed
    to a registry: the same names, the project's versions; the probes the same routes."""
    images = (re.sub(r"\$\{\w+:-(.+)\}", r"\1", service["image"])  # a variable's default
              for service in compose()["services"].values())  # fmt: skip
    ours = {image.split(":")[0] for image in images if image.startswith("poljuice")}
    pushed = {container["image"].split("/")[-1].split(":")[0]
              for _, document in manifests() for container in containers(document)
              if container["image"].startswith("registry.example.com/")}  # fmt: skip
    assert pushed == {"poljuice", "poljuice-app", "poljuice-mlflow"}
    assert pushed <= ours
    [api] = [container for _, document in manifests() for container in containers(document)
             if container["name"] == "api"]  # fmt: skip
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"  # compose's healthcheck
    assert "/readyz" in compose()["services"]["api"]["healthcheck"]["test"][-1]
