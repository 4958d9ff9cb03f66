"""The whole stack as a user starts it: `juice up` (what `make run` calls) from a clean
workspace, every part answering, a second start refused, and SIGTERM, or SIGKILL of
`juice up` alone, leaving nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from factories import write_params
from waiting import eventually

from juice.adapters.processes import free_port
from juice.adapters.stack import endpoints
from juice.settings import Settings

pytestmark = pytest.mark.e2e

JUICE = str(Path(sys.executable).parent / "juice")
PORTS = ("API", "UI", "PREFECT", "MLFLOW", "PROMETHEUS", "PUSHGATEWAY", "ALERTMANAGER",
         "ALERT_RECEIVER")  # fmt: skip


@dataclass
class Up:
    process: subprocess.Popen[str]
    env: dict[str, str]
    settings: Settings
    output: Path

    def text(self) -> str:
        return self.output.read_text()


@pytest.fixture(scope="module")
def up(tmp_path_factory) -> Iterator[Up]:
    """`juice up` in a clean workspace on free ports, until the stack says it is up."""
    folder = tmp_path_factory.mktemp("up")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JUICE_"))}
    env |= {f"JUICE_{name}_PORT": str(free_port()) for name in PORTS}
    env |= {"JUICE_HOME": str(folder / "home"), "JUICE_SIM_ROWS": "2500"}
    settings = Settings(**{k.removeprefix("JUICE_").lower(): v for k, v in env.items()
                           if k.startswith("JUICE_")})  # fmt: skip
    write_params(settings)  # the small grid: the first champion in seconds
    started = start_up(env, settings, folder / "up.out")
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.send_signal(signal.SIGTERM)
            started.process.wait(60)


def start_up(env: dict[str, str], settings: Settings, output: Path) -> Up:
    """`juice up`, once it says the stack is up."""
    with output.open("w") as stream:
        process = subprocess.Popen([JUICE, "up"], env=env, stdout=stream,
                                   stderr=subprocess.STDOUT, text=True)  # fmt: skip
    started = Up(process, env, settings, output)
    eventually(lambda: "the stack is up" in started.text() or process.poll() is not None,
               "stack", timeout=400)  # fmt: skip
    assert process.poll() is None, started.text()[-3000:]
    return started


def test_every_part_answers(up, browser):
    settings = up.settings
    answer = httpx.post(f"http://127.0.0.1:{settings.api_port}/predict",
                        json={"visits": [{"sex": "F", "age": 41, "raspberry": 298}]})  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()[0]["model_version"] == "1"

    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{settings.ui_port}/")
        page.get_by_text("Score a file").first.wait_for(timeout=30_000)
    finally:
        page.close()

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Prefect's own client: it asks for the CSRF token a change needs (a read by POST too)
    with temporary_settings({PREFECT_API_URL: settings.prefect_api_url}), \
            get_client(sync_client=True) as client:  # fmt: skip

        def deployments() -> list | None:
            found = client.read_deployments()
            return found if len(found) >= 6 else None

        found = eventually(deployments, "served deployments", timeout=120)
    assert any(deployment.schedules for deployment in found)

    mlflow = f"http://127.0.0.1:{settings.mlflow_port}/api/2.0/mlflow"
    alias = httpx.get(f"{mlflow}/registered-models/alias",
                      params={"name": settings.model_name, "alias": "champion"})  # fmt: skip
    assert alias.json()["model_version"]["version"] == "1"

    prometheus = f"http://127.0.0.1:{settings.prometheus_port}/api/v1"

    def targets_up() -> dict[str, str] | None:
        result = httpx.get(f"{prometheus}/query", params={"query": "up"}).json()["data"]["result"]
        up = {sample["metric"]["job"]: sample["value"][1] for sample in result}
        return (
            up
            if {"juice_service", "pushgateway"} <= {j for j, v in up.items() if v == "1"}
            else None
        )

    eventually(targets_up, "the service and the Pushgateway scraped", timeout=90)
    for name in ("api", "ui", "prefect", "mlflow", "prometheus"):
        assert (settings.workspace.logs / f"{name}.log").stat().st_size > 0


def test_a_second_start_is_refused(up):
    again = subprocess.run([JUICE, "up"], env=up.env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert again.returncode == 1
    assert "already runs" in again.stderr


def test_sigterm_stops_everything_and_frees_every_port(up):
    children = psutil.Process(up.process.pid).children(recursive=True)
    assert len(children) >= 9
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) is not None
    time.sleep(1)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [c.cmdline() for c in alive]
    for endpoint in endpoints(up.settings):
        with pytest.raises(httpx.TransportError):
            httpx.get(endpoint.probe, timeout=2)


def test_a_stack_killed_by_sigkill_takes_its_processes_with_it(up, tmp_path):
    """`juice up` killed alone (no signal reaches its children): every process of its
    stack stops within seconds, and the ports are free for the next start."""
    assert up.process.poll() is not None  # the previous test stopped it
    again = start_up(up.env, up.settings, tmp_path / "again.out")  # a champion: no set-up
    try:
        children = psutil.Process(again.process.pid).children(recursive=True)
        assert len(children) >= 9
        again.process.send_signal(signal.SIGKILL)
        again.process.wait(10)

        def all_gone() -> bool:
            return not [c for c in children if lives(c)]

        eventually(all_gone, "the killed stack's processes to stop", timeout=60)
    finally:
        for child in children:  # only what the test itself started
            if lives(child):
                child.kill()
    for endpoint in endpoints(up.settings):
        with pytest.raises(httpx.TransportError):
            httpx.get(endpoint.probe, timeout=2)


def lives(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
