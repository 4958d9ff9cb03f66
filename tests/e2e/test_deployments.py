"""The stack's Prefect side for real: `juice prefect-server`, `juice deployments`, runs on
demand and on schedule, and `juice` commands reporting to the running server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from commands import start_juice
from factories import export, write_params
from prefect_queries import deployment_names
from waiting import in_a_thread

from juice.adapters.processes import bento_server, free_port, http_server
from juice.registry.store import Registry
from juice.settings import Settings

pytestmark = pytest.mark.e2e

JUICE = str(Path(sys.executable).parent / "juice")


def client_env(home: Path, port: int) -> dict[str, str]:
    """A user's shell: the workspace and ports, no PREFECT_API_URL of the test session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JUICE_"))}
    return env | {"JUICE_HOME": str(home), "JUICE_PREFECT_PORT": str(port),
                  "JUICE_SIM_ROWS": "1500", "JUICE_DRIFT_CRON": "* * * * *"}  # fmt: skip


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([JUICE, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[dict[str, str], str]]:
    """A workspace with a champion, its Prefect server and the served deployments (the
    first runs go to that server: no temporary one per command)."""
    home = tmp_path_factory.mktemp("stack")
    port = free_port()
    env = client_env(home, port)
    write_params(Settings(home=home))
    api = f"http://127.0.0.1:{port}/api"
    server = http_server([JUICE, "prefect-server"], f"{api}/health", env, timeout=180)
    with server:
        run(env, "ingest", str(export(home / "first.csv", rows=2500, seed=1)))
        run(env, "build-dataset", "--no-version")
        run(env, "train")
        service, url = bento_server("service:PolJuice", home, JUICE_RELOAD_SECONDS="0.5")
        env["JUICE_API_URL"] = url  # where the drift loop's smoke test finds the live service
        with service:
            served = subprocess.Popen(
                [JUICE, "deployments"], env=env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                yield env, api
            finally:
                os.killpg(served.pid, 15)
                served.wait(30)


def flow_runs(api: str, deployment: str | None = None) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        if deployment is None:
            return client.read_flow_runs()
        wanted = DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
        return client.read_flow_runs(deployment_filter=wanted)


def test_the_flows_are_deployed_on_demand_and_on_schedule(stack):
    _, api = stack
    names = deployment_names(api)
    for flow in ("ingest", "build-dataset", "train", "drift-check"):
        assert f"{flow}/on-demand" in names
    assert "drift-check/scheduled:scheduled" in names
    assert "ingest/scheduled:scheduled" in names


def drift_check_on_demand(api: str, **options: Any) -> Any:
    """The on-demand drift check run through the server at `api`, awaited. In a thread of
    its own: a browser test earlier on this worker leaves an event loop running, and Prefect
    would then hand back a coroutine (waiting.in_a_thread)."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    def run() -> Any:
        with temporary_settings({PREFECT_API_URL: api}):
            return run_deployment("drift-check/on-demand", **options)

    return in_a_thread(run)


def test_a_run_on_demand_and_a_command_line_run_reach_the_server(stack):
    env, api = stack
    triggered = drift_check_on_demand(api, parameters={"retrain": False}, timeout=180)
    assert triggered.state.is_completed(), triggered.state
    before = {run.id for run in flow_runs(api)}
    done = run(env, "drift-check", "--no-retrain")  # no PREFECT_API_URL: found by its port
    assert "INSUFFICIENT-DATA" in done.stdout
    new = [run for run in flow_runs(api) if run.id not in before]
    assert [run.name for run in new if run.state.is_completed()]


def test_a_drifted_export_is_retrained_on_and_the_live_service_switches(stack, tmp_path):
    env, api = stack
    drifted = export(tmp_path / "concept.csv", rows=2500, seed=6, scenario="concept")
    run(env, "ingest", str(drifted))
    triggered = drift_check_on_demand(api, timeout=300)
    assert triggered.state.is_completed(), triggered.state
    # The check (or a scheduled one that took the retraining lock first, which this one
    # then waits for) promoted a challenger, and the live service answers with it.
    home = Settings(home=Path(env["JUICE_HOME"]))
    champion = Registry(home).champion_version()
    assert champion is not None
    assert int(champion) > 1
    log = home.workspace.registry_log.read_text().splitlines()
    assert '"by": "gate"' in log[-1]
    assert not any("rollback" in line for line in log)
    card = httpx.get(f"{env['JUICE_API_URL']}/model").json()
    assert card["version"] == champion
    visit = {"visits": [{"sex": "F", "age": 30, "mango": 40}]}
    answer = httpx.post(f"{env['JUICE_API_URL']}/predict", json=visit).json()
    assert answer[0]["model_version"] == champion


def test_the_scheduled_drift_check_runs_by_itself(stack):
    _, api = stack
    deadline = time.monotonic() + 150  # every minute: the next one is at most 60 s away
    while time.monotonic() < deadline:
        runs = flow_runs(api, "scheduled")
        if any(run.state.is_completed() and run.auto_scheduled for run in runs):
            return
        time.sleep(3)
    pytest.fail(f"no scheduled run completed: {[(r.name, r.state.name) for r in runs]}")


ANOTHER_ORIGIN = "http://127.0.0.1:1"  # a web page served anywhere else, another port included


def test_a_page_of_another_origin_cannot_drive_the_prefect_server(stack):
    env, api = stack
    port = env["JUICE_PREFECT_PORT"]
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):  # the UI, either name
        answer = httpx.options(f"{api}/deployments/filter", headers={"Origin": own, **asked})
        assert answer.headers.get("access-control-allow-origin") == own
    answer = httpx.options(f"{api}/deployments/filter", headers={"Origin": ANOTHER_ORIGIN, **asked})
    assert "access-control-allow-origin" not in answer.headers  # its JSON is never sent
    # What a page sends without asking: text/plain, its Origin. Refused; nothing changes.
    simple = {"Origin": ANOTHER_ORIGIN, "Content-Type": "text/plain", "Sec-Fetch-Site": "same-site"}
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployment = next(d for d in client.read_deployments() if d.name == "on-demand")
        runs = len(client.read_flow_runs())
        attempts = [
            (f"/deployments/{deployment.id}/pause_deployment", ""),
            (f"/deployments/{deployment.id}/create_flow_run",
             json.dumps({"parameters": {"sources": ["http://attacker.example/e.csv"]}})),
            ("/flow_runs/bulk_delete", "{}"),
        ]  # fmt: skip
        for path, body in attempts:
            answer = httpx.post(f"{api}{path}", content=body, headers=simple)
            assert answer.status_code in (403, 422), (path, answer.status_code, answer.text)
        assert not client.read_deployment(deployment.id).paused
        assert len(client.read_flow_runs()) == runs


def test_a_flow_run_killed_by_sigkill_ends_crashed_within_a_minute(stack):
    env, api = stack
    hangs = ("import time\nfrom juice.monitoring import check\n"
             "check.check_drift = lambda *args, **kwargs: time.sleep(600)")  # fmt: skip
    started = time.monotonic()
    killed = start_juice("drift-check", "--no-retrain", patch=hangs,
                         env={**env, "PREFECT_API_URL": api})  # fmt: skip
    try:

        def running() -> list:
            return [run for run in flow_runs(api) if run.state and run.state.is_running()
                    and run.deployment_id is None]  # fmt: skip

        deadline = time.monotonic() + 120
        while not (found := running()) and time.monotonic() < deadline:
            time.sleep(1)
        assert found, "the drift check's run never showed as RUNNING"
        run_id = found[0].id
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    killed_at = time.monotonic()
    deadline = killed_at + 90
    while time.monotonic() < deadline:
        state = next(r.state for r in flow_runs(api) if r.id == run_id)
        if state.is_crashed():
            break
        time.sleep(2)
    assert state.is_crashed(), state
    assert time.monotonic() - killed_at < 75, "crashed, but later than a heartbeat and a half"
    assert time.monotonic() - started < 240
