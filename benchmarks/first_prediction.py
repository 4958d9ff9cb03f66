"""Time from `make run` on a fresh clone to the first served prediction (issue 15's goal:
under 2 minutes, with the packages already in uv's cache), then a second `make run` in the
same clone right after the first stopped (it reuses the champion): the baseline.

Each run is stopped as Ctrl-C would stop it (SIGINT to its process group); the table says
how long it took to stop and whether any process of it or any of the stack's ports was left.
The stack's default ports must be free (nothing else running `make run`).

    uv run python benchmarks/first_prediction.py
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from juice.adapters.stack import endpoints
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

VISIT = {"visits": [{"sex": "F", "age": 41, "raspberry": 298}]}
TIMEOUT = 600  # seconds a run may take to its first prediction


@dataclass(frozen=True)
class Run:
    first_prediction: float
    stopped_after: float
    processes_left: int
    ports_left: list[int]
    steps: list[str]


def listening_ports() -> set[int]:
    return {c.laddr.port for c in psutil.net_connections("tcp") if c.status == "LISTEN"}


def one_run(clone: Path, ports: list[int], log: Path) -> Run:
    """`make run` in `clone` until it serves a prediction; then Ctrl-C, and what is left."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    url = f"http://127.0.0.1:{Settings().api_port}/predict"
    started = time.monotonic()
    with log.open("w") as out:
        make = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    group = make.pid
    try:
        with httpx.Client(timeout=5) as client:
            while not _predicts(client, url):
                if make.poll() is not None:
                    sys.exit(f"`make run` exited ({make.returncode}) before serving:\n"
                             f"{log.read_text()[-3000:]}")  # fmt: skip
                if time.monotonic() - started > TIMEOUT:
                    sys.exit(f"no prediction after {TIMEOUT} s (see {log})")
                time.sleep(0.5)
        first = time.monotonic() - started
        members = [p for p in psutil.process_iter(["pid"]) if _in_group(p, group)]
        os.killpg(group, signal.SIGINT)
        stopping = time.monotonic()
        make.wait(timeout=120)
        stopped = time.monotonic() - stopping
    finally:
        if make.poll() is None:
            os.killpg(group, signal.SIGKILL)
    time.sleep(0.5)  # the kernel's bookkeeping of the last exits
    left = [p for p in members if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    # (The readiness table comes once every part answers: often after the first prediction.)
    steps = re.findall(r"^\s*(\[\d/\d\] juice .*|done in .*)$", log.read_text(), flags=re.MULTILINE)
    return Run(first, stopped, len(left), sorted(set(ports) & listening_ports()), steps)


def _predicts(client: httpx.Client, url: str) -> bool:
    try:
        return client.post(url, json=VISIT).status_code == 200
    except httpx.HTTPError:
        return False


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group
    except OSError:
        return False


def main() -> None:
    ports = [endpoint.port for endpoint in endpoints(Settings())]
    busy = sorted(set(ports) & listening_ports())
    if busy:
        sys.exit(f"ports in use: {busy}; stop what listens there first")
    with tempfile.TemporaryDirectory(prefix="juice-fresh-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True)
        fresh = one_run(clone, ports, Path(tmp) / "first.log")
        again = one_run(clone, ports, Path(tmp) / "second.log")
    print("| make run | first prediction | vs the second run | stopped in | processes left "
          "| ports left |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for name, run in (("fresh clone", fresh), ("again, at once", again)):
        print(f"| {name} | {run.first_prediction:.1f} s "
              f"| {run.first_prediction / again.first_prediction:.2f}x "
              f"| {run.stopped_after:.1f} s | {run.processes_left} | {run.ports_left or '-'} |")  # fmt: skip
    print("\nthe fresh run's steps: " + "; ".join(fresh.steps))
    print("goal: the fresh clone's first prediction under 120 s")


if __name__ == "__main__":
    main()
