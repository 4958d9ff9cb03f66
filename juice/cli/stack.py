"""Commands that run the stack: all of it (`up`), or one of its long-running parts."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from juice.cli.output import load_settings
from juice.errors import JuiceError


def prefect_server() -> None:
    """Start the Prefect server and its UI on JUICE_PREFECT_PORT (foreground), its database
    in the workspace."""
    settings = load_settings()
    os.environ.pop("PREFECT_API_URL", None)  # the server itself is no client
    from juice.adapters.commands import become, prefect_server_command, prefect_server_environment

    os.environ.update(prefect_server_environment(settings))
    print(f"Prefect server and UI on http://127.0.0.1:{settings.prefect_port}", flush=True)
    become(prefect_server_command(settings))


def mlflow_ui() -> None:
    """Start the MLflow UI over the workspace's tracking store on JUICE_MLFLOW_PORT
    (foreground): experiments, runs, and the registry with its champion alias."""
    settings = load_settings()
    from juice.adapters.commands import become, mlflow_server_command

    print(f"MLflow UI on http://127.0.0.1:{settings.mlflow_port}", flush=True)
    become(mlflow_server_command(settings))


def up(
    wait: Annotated[float, typer.Option(help="Seconds to wait for every part to answer.")] = 300,
) -> None:
    """Run the whole stack (foreground): first an export, a dataset and a champion when
    there is none yet, then the Procfile's processes (Prefect server and deployments,
    MLflow UI, the service, the app, Prometheus, the Pushgateway, Alertmanager), each
    logging to logs/<name>.log. Ctrl-C or SIGTERM stops them all."""
    settings = load_settings()
    from juice.adapters.stack import run_stack

    sys.exit(run_stack(settings, wait))


def deployments(
    wait: Annotated[float, typer.Option(help="Seconds to wait for the Prefect server.")] = 120,
) -> None:
    """Serve the flows as Prefect deployments (foreground): build-dataset, train, ingest and
    drift-check on demand; ingest and drift-check on their schedules (JUICE_*_CRON)."""
    settings = load_settings()
    os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)
    # The stack runs a Pushgateway: the scheduled drift checks push their verdicts to it.
    os.environ.setdefault("JUICE_PUSHGATEWAY_URL", settings.pushgateway_local_url)
    from juice.adapters.stack import wait_for

    wait_for(f"{os.environ['PREFECT_API_URL']}/health", wait)
    from deployments.flows import serve_deployments

    print(f"serving the deployments (drift check: {settings.drift_cron})", flush=True)
    serve_deployments(settings)


MONITORS = ("prometheus", "alertmanager", "pushgateway", "alerts")


def monitor(
    service: Annotated[str, typer.Argument(help=" | ".join(MONITORS))],
) -> None:
    """Run one part of the monitoring (foreground): Prometheus, Alertmanager, the
    Pushgateway (configurations written into the workspace first), or the alert receiver."""
    if service not in MONITORS:
        raise JuiceError(f"unknown monitoring service {service!r}; choose {', '.join(MONITORS)}")
    settings = load_settings()
    if service == "alerts":
        from juice.adapters.alert_receiver import serve_alert_receiver

        print(f"alert receiver on http://127.0.0.1:{settings.alert_receiver_port}", flush=True)
        serve_alert_receiver(settings)
        return
    from juice.adapters.commands import MONITOR_COMMANDS, become
    from juice.monitoring.prometheus import write_monitoring_configs

    write_monitoring_configs(settings)
    become(MONITOR_COMMANDS[service](settings))
