"""The drift-check flow: window -> tests -> the incident's next step (a training on the new
regime when due) -> report. The policy lives in `juice.monitoring` (incidents, loop); the
flow gives it its training: the dataset and training flows, then the live service's check."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from juice.monitoring import loop
from juice.monitoring.check import (
    DriftCheck,
    DriftOutcome,
    action_markdown,
    check_drift,
    push_check,
    record_outcome,
    report_markdown,
)
from juice.monitoring.smoke import SmokeTest, smoke_test
from juice.params import workspace_params
from juice.registry import promotion
from juice.registry.store import Registry
from juice.settings import Settings


@task(cache_policy=NO_CACHE)
def test_window(settings: Settings, current: str | None) -> DriftCheck:
    params = workspace_params(settings)
    return check_drift(settings, params, Path(current) if current else None)


@flow(name="drift-check")
def drift_check(current: str | None = None, retrain: bool = True) -> DriftOutcome:
    """Tests the newest visits against the champion's reference; a check of the loop moves
    the drift incident (opens it, trains on the new regime, closes it), a check by hand
    (`current`, or no retraining) only judges."""
    settings = Settings()
    # Test the window against the champion's reference
    check = test_window(settings, current)
    training = partial(retrain_challenger, settings, check.model_version)
    if current is None and retrain:
        # The loop: the incident's next step, one check at a time
        outcome = loop.check_in_loop(settings, check, workspace_params(settings), training)
    else:
        # By hand: no incident moves (a file given: drift retrains on every landed export)
        outcome = loop.check_by_hand(settings, check, retrain, training)
    # Record the check and what followed: report, MLflow run, Pushgateway, artifacts
    return record(settings, outcome)


@task(cache_policy=NO_CACHE)
def record(settings: Settings, outcome: DriftOutcome) -> DriftOutcome:
    outcome = record_outcome(settings, outcome, push_check(settings, outcome))
    create_markdown_artifact(report_markdown(outcome.check), key="drift-report")
    create_table_artifact([t.to_dict() for t in outcome.check.report.tests], key="drift-tests")
    create_markdown_artifact(action_markdown(outcome), key="drift-action")
    return outcome


def retrain_challenger(
    settings: Settings, champion: str, since: str | None, must_improve: bool
) -> loop.Retrained:
    """Rebuilds the dataset (from `since` on: a new regime), trains a challenger; if the gate
    promotes it, verifies that the live service serves it, or rolls back."""
    from flows.dataset import build_dataset
    from flows.training import train

    built = build_dataset(since=since)
    outcome = train(must_improve=must_improve)
    done = loop.Retrained(outcome.model_version, outcome.promoted, built.dataset_rows)
    if not outcome.promoted:
        return done
    # The running service switches to the new champion: verify it, or roll back
    smoke = verify(settings, outcome.model_version)
    if smoke.passed is False:
        roll_back(settings, champion, outcome.model_version, smoke.detail)
    rolled_back = smoke.passed is False
    return loop.Retrained(outcome.model_version, not rolled_back, built.dataset_rows,
                          rolled_back, smoke.detail)  # fmt: skip


@task(cache_policy=NO_CACHE)
def verify(settings: Settings, version: str) -> SmokeTest:
    return smoke_test(
        settings.service_url, version, settings.token, wait_seconds=settings.smoke_seconds
    )


@task(cache_policy=NO_CACHE)
def roll_back(settings: Settings, champion: str, failed: str, why: str) -> None:
    reason = f"rollback: v{failed} failed its smoke test ({why})"
    promotion.roll_back(Registry(settings), failed, champion, reason, actor="drift-check")
