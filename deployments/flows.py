"""The flows as Prefect deployments, served by one long-running process (`juice deployments`).

On one machine this is the simple way: the process polls the Prefect server and runs
each due or triggered flow run itself, within about a second. Past one machine, the
same flows deploy to a work pool instead (see docs/deployments.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import serve
from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

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


ZOMBIES = "crash-silent-flow-runs"  # the automation's name


def zombie_automation(settings: Settings) -> Automation:
    """Prefect's "detect zombie flows" automation: a flow run whose heartbeats stop (its
    process was killed) without a final state is marked CRASHED, one and a half
    heartbeat intervals later (Prefect has no built-in service that does it)."""
    return Automation(
        name=ZOMBIES,
        description="A flow run whose heartbeats stopped (its process was killed) crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=settings.flow_heartbeat_seconds * 1.5),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {settings.flow_heartbeat_seconds * 1.5:g} s: "
                "its process was killed",
            )
        ],
    )


def ensure_zombie_automation(settings: Settings) -> None:
    """Creates the automation, or brings an existing one to these settings."""
    wanted = zombie_automation(settings)
    try:
        found = Automation.read(name=ZOMBIES)
    except ValueError:  # none yet
        wanted.create()
        return
    if (found.trigger, found.actions, found.enabled) != (wanted.trigger, wanted.actions, True):
        wanted.id = found.id
        wanted.update()


def serve_deployments(settings: Settings) -> None:  # pragma: no cover - runs until stopped
    """Registers the deployments and runs their flow runs until stopped (SIGTERM, Ctrl+C);
    they are paused on the way out only if asked (a restart resumes them as they were).
    Flow runs whose process is killed are marked CRASHED (`zombie_automation`)."""
    ensure_zombie_automation(settings)
    serve(*deployments(settings), limit=2, pause_on_shutdown=False, print_starting_message=False)
