"""Process environment for the frameworks, set before any of them is imported."""

from __future__ import annotations

import os

from juice.adapters.ports import listening
from juice.settings import Settings


def prepare_environment(settings: Settings) -> None:
    """Points Prefect, MLflow and friends at the workspace; explicit variables win."""
    defaults = {
        "PREFECT_HOME": str(settings.workspace.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        # Run logs go to the Prefect API (and UI); the terminal gets the command's own summary.
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(settings.flow_heartbeat_seconds),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "MLFLOW_LOGGING_LEVEL": "ERROR",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "BENTOML_DO_NOT_TRACK": "true",
        "BENTOML_HOME": str(settings.workspace.bentoml_home),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    if "PREFECT_API_URL" not in os.environ and listening(settings.prefect_port):
        # The stack's Prefect server is up: runs of this command show in its UI.
        defaults["PREFECT_API_URL"] = settings.prefect_api_url
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    settings.workspace.prefect_home.mkdir(parents=True, exist_ok=True)
