"""The stack `juice up` runs: what it needs first (a champion), the Procfile's processes under
honcho, each one's output in its own log file in the workspace, and the one table of where
everything answers; and the waits and probes of the processes in it.

honcho starts them together and stops them all on Ctrl-C, SIGTERM, or when any one exits
(SIGTERM to each process group, SIGKILL after 5 s).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import httpx
from filelock import FileLock
from honcho.environ import parse_procfile
from honcho.manager import SYSTEM_PRINTER_NAME, Manager
from honcho.printer import Printer

from juice.adapters.ports import listening
from juice.errors import JuiceError
from juice.locks import try_acquire
from juice.logfiles import LOG_BYTES, rotate_past
from juice.registry.reconcile import reconcile
from juice.registry.store import Registry
from juice.secrets import basic_authorization
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

PROCFILE = PROJECT_ROOT / "Procfile"


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str  # what a person opens
    probe: str  # what answers 200 once it is up
    port: int
    setting: str
    headers: dict[str, str] = field(default_factory=dict)  # the probe's credentials


def endpoints(settings: Settings) -> list[Endpoint]:
    """Where the stack answers, in the order the table shows them."""
    local = "http://127.0.0.1"
    monitoring = basic_authorization(*settings.monitoring_auth())
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
                 "JUICE_PUSHGATEWAY_PORT", monitoring),
        Endpoint("Alertmanager", f"{local}:{settings.alertmanager_port}",
                 f"{local}:{settings.alertmanager_port}/-/ready", settings.alertmanager_port,
                 "JUICE_ALERTMANAGER_PORT", monitoring),
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
                size = stream.tell()
                stream.close()
                rotate_past(path, size)
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
    os.register_at_fork(after_in_child=partial(_die_with, os.getpid()))  # honcho's runners
    manager.loop()
    return manager.returncode or 0


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _die_with(parent: int) -> None:
    """In each of honcho's runners (a fork of `juice up`, the parent of one process group):
    once `juice up` dies, however it dies (SIGKILL too), the runner stops its group as
    honcho's own stop does (SIGTERM to the group), so no process outlives the stack."""
    signal.signal(signal.SIGUSR1, _stop_groups)  # honcho's runner ignores SIGTERM and SIGINT
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if os.getppid() != parent:  # it died before the request was made
        _stop_groups()


def _stop_groups(*_: Any) -> None:
    import psutil

    for child in psutil.Process().children():  # each leads a session of its own (honcho)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    os._exit(1)


def wait_until_up(settings: Settings, timeout: float) -> list[Endpoint]:
    """Waits for every endpoint to answer; those still silent after `timeout` seconds."""
    waiting = endpoints(settings)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while waiting and time.monotonic() < deadline:
            waiting = [e for e in waiting if not _answers(client, e.probe, e.headers)]
            if waiting:
                time.sleep(1)
    return waiting


def _answers(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return client.get(url, headers=headers).status_code == 200
    except httpx.HTTPError:
        return False


def run_stack(settings: Settings, wait: float) -> int:
    """`juice up`: one stack per workspace, on free ports, with a champion; its processes
    run until Ctrl-C, SIGTERM or one of them exits (their exit code). The URL table is
    printed once every part answers (or what is silent after `wait` seconds)."""
    lock = FileLock(settings.workspace.lock("stack"))
    if not try_acquire(lock):  # held until this process ends, however it ends
        raise JuiceError(
            f"the stack already runs in this workspace ({settings.home}): use it, or stop it "
            "with Ctrl-C where it runs"
        )
    busy = [f"{e.port} ({e.setting})" for e in endpoints(settings) if listening(e.port)]
    if busy:
        raise JuiceError(f"in use: port {', '.join(busy)}; stop what listens there or set "
                         "other ports")  # fmt: skip
    prepare_stack(settings)
    started = time.monotonic()

    def report() -> None:
        silent = wait_until_up(settings, wait)
        if silent:
            names = ", ".join(e.name for e in silent)
            print(f"not answering after {wait:.0f} s: {names} (see {settings.workspace.logs})")
            return
        took = time.monotonic() - started
        print(f"\nthe stack is up ({took:.0f} s); Ctrl-C stops it\n{url_table(settings)}\n",
              flush=True)  # fmt: skip

    return run_processes(procfile_processes(), settings.workspace.logs, report)


def prepare_stack(settings: Settings) -> None:
    """What the stack needs before it starts: a champion (from a first export and a
    dataset when there are none); nothing when there is one already. Each step runs as
    its own `juice` command, its memory and Prefect's temporary server gone with it."""
    steps: list[list[str]] = []
    if not _has_champion(settings):
        landed = settings.workspace.landing
        if not landed.is_dir() or not any(landed.iterdir()):
            steps.append(["ingest"])
        steps += [["build-dataset"], ["train"]]
    for number, step in enumerate(steps, 1):
        print(f"[{number}/{len(steps)}] juice {' '.join(step)}", flush=True)
        started = time.monotonic()
        if subprocess.call([sys.executable, "-m", "juice.cli", *step]) != 0:
            raise JuiceError(f"`juice {' '.join(step)}` failed: the stack was not started")
        print(f"      done in {time.monotonic() - started:.0f} s", flush=True)


def _has_champion(settings: Settings) -> bool:
    """Whether there is a champion, its record made true first (a crash, a hand)."""
    if Registry.missing(settings):
        return False
    registry = Registry(settings)
    reconcile(registry)
    return registry.champion_version() is not None


def wait_for(url: str, seconds: float) -> None:
    """Waits until `url` answers 200; an error after `seconds`."""
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=2) as client:
        while not _answers(client, url):
            if time.monotonic() > deadline:
                raise JuiceError(f"nothing answered at {url} within {seconds:.0f} s")
            time.sleep(1)


@contextmanager
def scratch_folder(settings: Settings) -> Iterator[Path]:
    """A temporary folder of this process's own in the workspace, where the app's uploads
    and scored files go (not the machine's /tmp): the app's libraries find it through
    GRADIO_TEMP_DIR, TMPDIR and `tempfile`. It is removed when the block ends, SIGTERM
    included (it ends the block as Ctrl-C does); those of apps that died (SIGKILL) are
    removed when the next one starts."""
    import psutil

    parent, own = settings.workspace.ui_scratch, str(os.getpid())
    for folder in parent.glob("*") if parent.is_dir() else []:
        alive = folder.name.isdigit() and psutil.pid_exists(int(folder.name))
        if not alive or folder.name == own:  # own: a container's app has the same pid again
            shutil.rmtree(folder, ignore_errors=True)
    scratch = parent / own
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = str(scratch)
    stop = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield scratch
    finally:
        signal.signal(signal.SIGTERM, stop)
        shutil.rmtree(scratch, ignore_errors=True)
