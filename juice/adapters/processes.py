"""HTTP servers started on loopback and stopped by their process group (tests, benchmarks)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mirakuru import HTTPExecutor

from juice.adapters.commands import serve_command, tracking_server_command
from juice.adapters.ports import free_port
from juice.workspace import PROJECT_ROOT, Workspace


def http_server(
    command: list[str],
    ready_url: str,
    env: dict[str, str] | None = None,
    cwd: Path = PROJECT_ROOT,
    timeout: float = 120,
    log: Path | None = None,
    headers: dict[str, str] | None = None,
) -> HTTPExecutor:
    """A server that counts as started once `ready_url` answers 2xx to a GET (with
    `headers`, the credentials of a server behind authentication).

    `start()` raises if it is not ready within `timeout` seconds or exits first; `stop()`
    ends its whole process group (BentoML's workers too). Usable as a context manager.
    Its output goes to `log` when given, else nowhere.
    """
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    return HTTPExecutor(
        command,
        url=ready_url,
        method="GET",
        headers=headers,
        cwd=str(cwd),
        envvars=env or {},
        timeout=timeout,
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
    )


def bento_server(
    target: str, home: Path, log: Path | None = None, shutdown_seconds: int = 5, **env: str
) -> tuple[HTTPExecutor, str]:
    """`bentoml serve TARGET` on a free loopback port with `home` as its workspace (and
    BentoML home), its output to `log` if given; ready when /readyz answers; once stopped,
    it lets requests finish for `shutdown_seconds` (short: these servers are the tests'
    and the benchmarks'). Returns the server and its base URL."""
    port = free_port()
    command = serve_command(target, "127.0.0.1", port, shutdown_seconds)
    env = {"JUICE_HOME": str(home), "BENTOML_HOME": str(Workspace(home).bentoml_home),
           "BENTOML_DO_NOT_TRACK": "true", **env}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return http_server(command, f"{url}/readyz", env, log=log), url


def tracking_server(folder: Path) -> tuple[HTTPExecutor, str]:
    """An MLflow tracking server on a free loopback port, its store and artifacts (proxied)
    in `folder`; ready when /health answers. Returns the server and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return http_server(tracking_server_command(folder, port), f"{url}/health", cwd=folder), url
