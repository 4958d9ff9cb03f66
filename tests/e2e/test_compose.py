"""deployments/compose.yaml for real, under podman-compose: the project's images (built
once per session by make-images.sh), MLflow and Prefect on Postgres, the bootstrap's
champion, the API, the app, the flows' drift loop, Prometheus; `down` and `up` again."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import yaml
from containers import BENTO_IMAGE, compose, podman, project_containers, project_volumes
from factories import export
from prefect_queries import deployment_names
from waiting import eventually

from juice.adapters.processes import free_port
from juice.params import DriftParams, Params

pytestmark = [pytest.mark.e2e, pytest.mark.containers]

USER, PASSWORD = "ana", "a-test-password"
PORTS = ("API", "UI", "MLFLOW", "PREFECT", "PROMETHEUS", "PUSHGATEWAY", "ALERTMANAGER")
READY_SECONDS = 240  # from empty volumes: Postgres, MLflow, Prefect, then a training


@dataclass(frozen=True)
class Stack:
    project: str
    env: dict[str, str]

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.env[f'JUICE_{port}_PORT']}"

    def compose(self, *args: str) -> str:
        done = compose(self.project, *args, env=self.env)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def run(self, service: str, command: str, given: str | None = None) -> str:
        """`command` (sh) in the running container of `service`, `given` on its stdin."""
        name = f"{self.project}_{service}_1"
        return podman("exec", "-i", name, "sh", "-c", command, timeout=300, given=given).stdout

    def token(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['JUICE_API_TOKEN']}"}

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url("API"), headers=self.token(), timeout=30)

    def served_version(self) -> str | None:
        """The champion's version once every worker serves the same one (each loads its own
        champion: a few asks reach them all), else None."""
        try:  # a connection each: the workers share the listening socket
            answers = [
                httpx.get(f"{self.url('API')}/model", headers=self.token()) for _ in range(8)
            ]
        except httpx.TransportError:
            return None
        versions = {a.json()["version"] if a.status_code == 200 else None for a in answers}
        return versions.pop() if len(versions) == 1 else None


@pytest.fixture(scope="module")
def stack(images) -> Iterator[Stack]:
    """The whole stack from empty volumes, on free loopback ports; down with its volumes after."""
    project = f"poljuice-test-{os.getpid()}"
    env = {f"JUICE_{name}_PORT": str(free_port()) for name in PORTS} | {
        "JUICE_API_TOKEN": "a-test-token-" + os.urandom(8).hex(),
        "JUICE_UI_USERS": f"{USER}:{PASSWORD}",
        "POLJUICE_BENTO_IMAGE": BENTO_IMAGE,
        "JUICE_RELOAD_SECONDS": "2",
        "JUICE_SIM_ROWS": "5000",  # the bootstrap's first export
        "JUICE_DRIFT_CRON": "0 0 1 1 *",  # no scheduled check in the middle of a test
        "JUICE_INGEST_CRON": "0 0 1 1 *",
    }
    stack = Stack(project, env)
    try:
        stack.compose("up", "-d")
        eventually(stack.served_version, "champion served by the API container", READY_SECONDS)
        yield stack
    finally:
        compose(project, "down", "-v", env=env)


def listening(port: str) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", int(port))) == 0


def test_compose_refuses_to_start_without_the_api_token(images):
    done = compose(
        "poljuice-test-refused", "config", env={"JUICE_API_TOKEN": "", "JUICE_UI_USERS": "a:b"}
    )
    assert done.returncode != 0
    assert "JUICE_API_TOKEN" in done.stderr
    assert "set the API token" in done.stderr


def test_the_bootstrap_made_a_champion_that_the_api_container_serves(stack):
    visit = {"visits": [{"sex": "F", "age": 41, "mango": 30}]}
    with stack.api() as client:
        assert client.get("/model").json()["version"] == "1"
        [predicted] = client.post("/predict", json=visit).json()
        assert 0 < predicted["probability"] < 1
        assert predicted["model_version"] == "1"
    assert httpx.post(f"{stack.url('API')}/predict", json=visit).status_code == 401
    # MLflow keeps the registry in Postgres, not SQLite
    assert "postgresql" in " ".join(podman("inspect", "--format", "{{.Config.Cmd}}",
                                           f"{stack.project}_mlflow_1").stdout.split())  # fmt: skip


def test_the_app_container_scores_a_file_through_the_api_container(stack, tmp_path):
    from gradio_client import Client, handle_file

    with pytest.raises(ValueError, match="Could not login"):
        Client(stack.url("UI"), auth=(USER, "wrong"), verbose=False)
    client = Client(stack.url("UI"), auth=(USER, PASSWORD), verbose=False)
    visits = export(tmp_path / "visits.csv", rows=120, seed=31)
    outputs = client.predict(handle_file(str(visits)), api_name="/score_file")
    assert "**120** rows scored · **0** rejected" in json.dumps(outputs, ensure_ascii=False)


def test_the_prefect_server_on_postgres_lists_the_deployments(stack):
    names = deployment_names(f"{stack.url('PREFECT')}/api")
    assert {"drift-check/scheduled:scheduled", "train/on-demand", "ingest/scheduled"} <= names


def test_prometheus_scrapes_the_api_and_the_pushgateway(stack):
    def healthy() -> set[str]:
        targets = httpx.get(f"{stack.url('PROMETHEUS')}/api/v1/targets").json()["data"]
        return {t["labels"]["job"] for t in targets["activeTargets"] if t["health"] == "up"}

    eventually(lambda: healthy() >= {"juice_service", "pushgateway"}, "targets up", 60)
    for port in ("PUSHGATEWAY", "ALERTMANAGER"):  # our processes only: basic auth
        assert httpx.get(f"{stack.url(port)}/metrics").status_code == 401


def test_a_drift_check_in_the_flows_container_promotes_and_the_api_follows(stack):
    # The operator's params: judge every labelled visit of the window (a small champion).
    params = Params(drift_check=DriftParams(concept_visits=5000)).model_dump(mode="json")
    stack.run("flows", "cat > /workspace/params.yaml", given=yaml.safe_dump(params))
    simulated = "juice simulate --scenario concept --rows 5000 --seed 7 --out /tmp/concept.csv"
    stack.run("flows", f"{simulated} && juice ingest /tmp/concept.csv")
    report = json.loads(stack.run("flows", "juice drift-check --json").strip().splitlines()[-1])
    assert report["concept_drift"], report["concept"]["reason"]
    assert report["promoted"], report["action"]
    assert report["model_version"] == "2"
    assert "serves v2" in report["smoke_test"]  # asked of the API container by the flows
    eventually(lambda: stack.served_version() == "2", "v2 served on the host's port", 10)


def test_a_crashed_container_is_restarted_and_the_api_serves_again(stack):
    """A crash (the main process SIGKILLed, not `podman kill`, which counts as a stop): the
    restart policy brings the API and the flows back, and the API serves the champion."""
    served = stack.served_version()
    for service in ("api", "flows"):
        name = f"{stack.project}_{service}_1"
        pid = int(podman("inspect", "--format", "{{.State.Pid}}", name).stdout)
        os.kill(pid, signal.SIGKILL)  # the container's own process: this test started it
    eventually(lambda: stack.served_version() == served, "champion served after a crash", 120)
    for service in ("api", "flows"):
        state = json.loads(podman("inspect", f"{stack.project}_{service}_1").stdout)[0]
        assert state["RestartCount"] >= 1
        assert state["State"]["Status"] == "running"


def test_down_leaves_nothing_behind_and_up_keeps_the_data(stack):
    stack.compose("down")
    assert project_containers(stack.project) == []
    assert not [port for port in PORTS if listening(stack.env[f"JUICE_{port}_PORT"])]
    assert f"{stack.project}_postgres-data" in project_volumes(stack.project)
    stack.compose("up", "-d")
    version = eventually(stack.served_version, "champion served after up", READY_SECONDS)
    assert version == "2"  # the promoted one: Postgres, the artifacts and the workspace kept
    logs = podman("logs", f"{stack.project}_bootstrap_1").stdout
    assert "landed" not in logs  # it found the champion and trained nothing
