"""The stack `juice up` runs: the Procfile's processes under honcho, each one's output in its
own log file in the workspace, and the one table of where everything answers.

honcho starts them together and stops them all on Ctrl-C, SIGTERM, or when any one exits
(SIGTERM to each process group, SIGKILL after 5 s).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
from honcho.environ import parse_procfile
from honcho.manager import SYSTEM_PRINTER_NAME, Manager
from honcho.printer import Printer

from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

PROCFILE = PROJECT_ROOT / "Procfile"
LOG_BYTES = 50 << 20  # a process's log is rotated past this (one previous file kept)


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str  # what a person opens
    probe: str  # what answers 200 once it is up
    port: int
    setting: str


def endpoints(settings: Settings) -> list[Endpoint]:
    """Where the stack answers, in the order the table shows them."""
    local = "http://127.0.0.1"
    return [
        Endpoint("marketers' app", f"{local}:{settings.ui_port}", f"{local}:{settings.ui_port}/",
                 settings.ui_port, "JUICE_UI_PORT"),
        Endpoint("prediction API (docs)", f"{local}:{settings.api_port}",
                 f"{local}:{settings.api_port}/readyz", settings.api_port, "JUICE_API_PORT"),
        Endpoint("Prefect UI", f"{local}:{settings.prefect_port}",
                 f"{settings.prefect_api_url}/health", settings.prefect_port,
                 "JUICE_PREFECT_PORT"),
        Endpoint("MLflow UI", f"{local}:{settings.mlflow_port}",
                 f"{local}:{settings.mlflow_port}/health", settings.mlflow_port,
                 "JUICE_MLFLOW_PORT"),
        Endpoint("Prometheus", f"{local}:{settings.prometheus_port}",
                 f"{local}:{settings.prometheus_port}/-/ready", settings.prometheus_port,
                 "JUICE_PROMETHEUS_PORT"),
        Endpoint("Pushgateway", f"{local}:{settings.pushgateway_port}",
                 f"{local}:{settings.pushgateway_port}/-/ready", settings.pushgateway_port,
                 "JUICE_PUSHGATEWAY_PORT"),
        Endpoint("Alertmanager", f"{local}:{settings.alertmanager_port}",
                 f"{local}:{settings.alertmanager_port}/-/ready", settings.alertmanager_port,
                 "JUICE_ALERTMANAGER_PORT"),
        Endpoint("alert receiver", f"{local}:{settings.alert_receiver_port}",
                 f"{local}:{settings.alert_receiver_port}/healthz",
                 settings.alert_receiver_port, "JUICE_ALERT_RECEIVER_PORT"),
    ]  # fmt: skip


def url_table(settings: Settings) -> str:
    rows = [(e.name, e.url) for e in endpoints(settings)]
    rows.append(("process logs", str(settings.workspace.logs)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name.ljust(width)}  {where}" for name, where in rows)


class LogFiles(Printer):
    """honcho's printer: each process's lines go to `<folder>/<name>.log`; honcho's own
    (started, stopped, signals) to the console."""

    def __init__(self, folder: Path, console: TextIO = sys.stdout) -> None:
        super().__init__(console)
        self.folder = folder
        self.files: dict[str, TextIO] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, message: Any) -> None:
        if message.name == SYSTEM_PRINTER_NAME:
            super().write(message)
            return
        text = message.data
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        stream = self._file(message.name)
        stream.write(text)
        stream.flush()

    def _file(self, name: str) -> TextIO:
        path = self.folder / f"{name}.log"
        stream = self.files.get(name)
        if stream is None or stream.tell() > LOG_BYTES:
            if stream is not None:
                stream.close()
                path.replace(path.with_name(f"{name}.log.1"))
            stream = self.files[name] = path.open("a", encoding="utf-8")
        return stream


def procfile_processes(procfile: Path = PROCFILE) -> dict[str, str]:
    return dict(parse_procfile(procfile.read_text()).processes)


def run_processes(
    processes: dict[str, str], logs: Path, on_started: Callable[[], None] | None = None
) -> int:
    """Runs the processes until Ctrl-C, SIGTERM or one of them exits; their exit code.
    `on_started` runs in a thread of its own meanwhile (the readiness report)."""
    manager = Manager(LogFiles(logs))
    # The Procfile's `juice` is this environment's, however this one was started.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for name, command in processes.items():
        manager.add_process(name, command, env={**os.environ, "PATH": path}, cwd=str(PROJECT_ROOT))
    if on_started is not None:
        threading.Thread(target=on_started, daemon=True).start()
    manager.loop()
    return manager.returncode or 0


def wait_until_up(settings: Settings, timeout: float) -> list[Endpoint]:
    """Waits for every endpoint to answer; those still silent after `timeout` seconds."""
    waiting = endpoints(settings)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while waiting and time.monotonic() < deadline:
            waiting = [e for e in waiting if not _answers(client, e.probe)]
            if waiting:
                time.sleep(1)
    return waiting


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False
