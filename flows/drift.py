"""The drift-check flow: window -> tests -> report -> on drift: rebuild, retrain, gate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from filelock import FileLock
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from juice.locks import try_acquire
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


@task(cache_policy=NO_CACHE)
def announce(settings: Settings, check: DriftCheck) -> list[str]:
    create_markdown_artifact(report_markdown(check), key="drift-report")
    create_table_artifact([test.to_dict() for test in check.report.tests], key="drift-tests")
    return push_check(settings, check)


@flow(name="drift-check")
def drift_check(current: str | None = None, retrain: bool = True) -> DriftOutcome:
    """Tests the newest visits against the champion's training data; on drift (and with
    `retrain`), rebuilds the dataset and trains a challenger for the gate."""
    settings = Settings()
    # Test the window against the champion's own training data
    check = test_window(settings, current)
    # Announce the verdict: Prefect artifacts, Pushgateway
    check = replace(check, warnings=[*check.warnings, *announce(settings, check)])
    champion = check.model_version
    if not check.report.drift:
        outcome = DriftOutcome(check, False, False, champion, "no drift: nothing to do")
    elif not retrain:
        outcome = DriftOutcome(check, False, False, champion, "drift: reported only (--no-retrain)")
    else:
        # On drift: rebuild, retrain, the gate; the live service switches or is rolled back
        outcome = act_on_drift(settings, check)
    # Record the check and what followed: the JSON report, an MLflow run, an artifact
    return record(settings, outcome)


@task(cache_policy=NO_CACHE)
def record(settings: Settings, outcome: DriftOutcome) -> DriftOutcome:
    record_outcome(settings, outcome)
    create_markdown_artifact(action_markdown(outcome), key="drift-action")
    return outcome


def act_on_drift(settings: Settings, check: DriftCheck) -> DriftOutcome:
    """Rebuilds the dataset, trains a challenger; if the gate promotes it, verifies that
    the live service serves it, or rolls back. One check at a time does this: a check
    that finds another at it waits for it to finish and reports its result (both saw the
    same landed data), so its answer names the champion truly in charge."""
    settings.workspace.work.mkdir(parents=True, exist_ok=True)
    lock = FileLock(settings.workspace.lock("retrain"))
    if not try_acquire(lock):
        with lock:  # a killed check's lock dies with its process: this never waits forever
            now = Registry(settings).require_champion()
        action = f"drift: another check retrained meanwhile; champion v{now}"
        return DriftOutcome(check, False, False, now, action)
    try:
        return _retrain(settings, check)
    finally:
        lock.release()


def _retrain(settings: Settings, check: DriftCheck) -> DriftOutcome:
    from flows.dataset import build_dataset
    from flows.training import train

    champion = check.model_version
    build_dataset()
    outcome = train()
    if not outcome.promoted:
        action = f"retrained: v{outcome.model_version} kept out by the gate"
        return DriftOutcome(check, True, False, champion, action)
    # The running service switches to the new champion: verify it, or roll back
    smoke = verify(settings, outcome.model_version)
    if smoke.passed is False:
        roll_back(settings, champion, outcome.model_version, smoke.detail)
        action = f"retrained: v{outcome.model_version} promoted, then rolled back to v{champion}"
        return DriftOutcome(check, True, False, champion, action, smoke.detail)
    action = f"retrained: v{outcome.model_version} promoted"
    return DriftOutcome(check, True, True, outcome.model_version, action, smoke.detail)


@task(cache_policy=NO_CACHE)
def verify(settings: Settings, version: str) -> SmokeTest:
    return smoke_test(
        settings.service_url, version, settings.token, wait_seconds=settings.smoke_seconds
    )


@task(cache_policy=NO_CACHE)
def roll_back(settings: Settings, champion: str, failed: str, why: str) -> None:
    reason = f"rollback: v{failed} failed its smoke test ({why})"
    promotion.roll_back(Registry(settings), failed, champion, reason, actor="drift-check")
