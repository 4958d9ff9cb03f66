"""The command lines of the stack's servers (Prefect, MLflow, BentoML, Prometheus,
Alertmanager, the Pushgateway), each bound to this machine and keeping its state in the
workspace; and a process replaced by one of them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from juice.errors import JuiceError
from juice.monitoring.prometheus import LOOPBACK
from juice.settings import Settings


def prefect_server_command(settings: Settings) -> list[str]:
    """The Prefect server and its UI on JUICE_PREFECT_PORT, its database in PREFECT_HOME."""
    return [_venv("prefect"), "server", "start", "--host", LOOPBACK,
            "--port", str(settings.prefect_port)]  # fmt: skip


def prefect_server_environment(settings: Settings) -> dict[str, str]:
    """What the Prefect server must be told to take requests from its own pages only: a web
    page of another origin gets no CORS answer (its JSON requests are never sent) and
    every change needs Prefect's CSRF token (which that page cannot read)."""
    own = f"{settings.prefect_port}"
    return {
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{own},http://localhost:{own}",
        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
    }


def mlflow_server_command(settings: Settings) -> list[str]:
    """The MLflow UI over the workspace's tracking store on JUICE_MLFLOW_PORT."""
    return [_venv("mlflow"), "server", "--backend-store-uri", settings.tracking_uri,
            "--workers", "1", "--host", LOOPBACK, "--port", str(settings.mlflow_port)]  # fmt: skip


def tracking_server_command(folder: Path, port: int) -> list[str]:
    """An MLflow tracking server on loopback, its store and artifacts in `folder`, the
    artifacts proxied (`mlflow-artifacts:/`), as compose.yaml and Kubernetes run it."""
    return [_venv("mlflow"), "server", "--host", LOOPBACK, "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--serve-artifacts", "--artifacts-destination", str(folder / "artifacts")]  # fmt: skip


def serve_command(target: str, host: str, port: int, shutdown_seconds: int) -> list[str]:
    """`bentoml serve` of a service (`module:Class`) or a bento tag; once stopping, it lets
    requests in progress finish for `shutdown_seconds` (a client that left mid-body
    would otherwise hold the shutdown for a minute)."""
    return [_venv("bentoml"), "serve", target, "--host", host, "--port", str(port),
            "--timeout-graceful-shutdown", str(shutdown_seconds)]  # fmt: skip


def prometheus_command(settings: Settings) -> list[str]:
    """Prometheus on the rendered configuration, its database in the workspace."""
    workspace = settings.workspace
    return [
        _installed("prometheus"),
        f"--config.file={workspace.prometheus_config}",
        f"--storage.tsdb.path={workspace.prometheus_data}",
        f"--storage.tsdb.retention.time={settings.retention_days}d",
        f"--web.listen-address={LOOPBACK}:{settings.prometheus_port}",
        # Its API answers reads only (no admin, no lifecycle): to its own pages alone.
        rf"--web.cors.origin=http://(127\.0\.0\.1|localhost):{settings.prometheus_port}",
    ]


def alertmanager_command(settings: Settings) -> list[str]:
    """Alertmanager on the rendered configuration, its state in the workspace."""
    workspace = settings.workspace
    return [
        _installed("prometheus-alertmanager", "alertmanager"),  # Debian's name, upstream's
        f"--config.file={workspace.alertmanager_config}",
        f"--storage.path={workspace.alertmanager_data}",
        f"--web.listen-address={LOOPBACK}:{settings.alertmanager_port}",
        f"--web.config.file={workspace.monitoring_web_config}",  # basic auth: our processes only
        # A single instance: no cluster gossip (it would listen on 0.0.0.0:9094).
        "--cluster.listen-address=",
    ]


def pushgateway_command(settings: Settings) -> list[str]:
    """The Pushgateway on its port, persisting to the workspace: what drift checks pushed
    survives a restart, and no other Pushgateway on the machine shares the file."""
    return [
        _installed("prometheus-pushgateway", "pushgateway"),  # Debian's name, upstream's
        f"--web.listen-address={LOOPBACK}:{settings.pushgateway_port}",
        f"--web.config.file={settings.workspace.monitoring_web_config}",  # basic auth
        f"--persistence.file={settings.workspace.pushgateway_data}",
    ]


MONITOR_COMMANDS = {
    "prometheus": prometheus_command,
    "alertmanager": alertmanager_command,
    "pushgateway": pushgateway_command,
}


def become(command: list[str]) -> NoReturn:
    """Replaces this process with `command`: the process manager's signals reach the
    server itself."""
    os.execv(command[0], command)


def _venv(name: str) -> str:
    """A command of this Python environment (however this process was started)."""
    return str(Path(sys.executable).parent / name)


def _installed(*names: str) -> str:
    for name in names:
        if found := shutil.which(name):
            return found
    raise JuiceError(f"{names[0]} is not installed: `make system` installs it")
