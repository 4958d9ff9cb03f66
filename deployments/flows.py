"""The flows as Prefect deployments, served by one long-running process (`juice deployments`).

On one machine this is the simple way: the process polls the Prefect server and runs
each due or triggered flow run itself, within about a second. Past one machine, the
same flows deploy to a work pool instead (see docs/deployments.md).
"""

from __future__ import annotations

from typing import Any

from prefect import serve

from flows.dataset import build_dataset
from flows.drift import drift_check
from flows.ingest import ingest_exports
from flows.training import train
from juice.settings import Settings

ON_DEMAND = "on-demand"
SCHEDULED = "scheduled"


def deployments(settings: Settings) -> list[Any]:
    """Every flow on demand (parameters editable in the Prefect UI); ingest and the
    drift check also on their schedules."""
    return [
        ingest_exports.to_deployment(ON_DEMAND, description="Land exports now."),
        ingest_exports.to_deployment(
            SCHEDULED, cron=settings.ingest_cron, description="Pull the next exports."
        ),
        build_dataset.to_deployment(ON_DEMAND, description="Parse, validate, version."),
        train.to_deployment(ON_DEMAND, description="Train a challenger; the gate decides."),
        drift_check.to_deployment(
            ON_DEMAND, description="Check for drift; on drift, retrain and redeploy."
        ),
        drift_check.to_deployment(
            SCHEDULED,
            cron=settings.drift_cron,
            description="The regular drift check: retrain and redeploy on drift.",
        ),
    ]


def serve_deployments(settings: Settings) -> None:  # pragma: no cover - runs until stopped
    """Registers the deployments and runs their flow runs until stopped (SIGTERM, Ctrl+C);
    they are paused on the way out only if asked (a restart resumes them as they were)."""
    serve(*deployments(settings), limit=2, pause_on_shutdown=False, print_starting_message=False)
