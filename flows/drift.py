"""The drift-check flow: window -> tests -> report -> on drift: rebuild, retrain, gate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from juice.monitoring.check import DriftCheck, check_drift, record_check, report_markdown
from juice.params import load_params
from juice.settings import Settings


@dataclass(frozen=True)
class DriftOutcome:
    """A check and what followed it: `juice drift-check --json`."""

    check: DriftCheck
    retrained: bool
    promoted: bool
    model_version: str  # the champion after the check
    action: str  # what was done after the verdict, in words

    def to_dict(self) -> dict[str, Any]:
        return {**self.check.to_dict(), **{k: v for k, v in asdict(self).items() if k != "check"}}


@task(cache_policy=NO_CACHE)
def test_window(settings: Settings, current: str | None) -> DriftCheck:
    params = load_params(settings.workspace.params_file)
    return check_drift(settings, params, Path(current) if current else None)


@task(cache_policy=NO_CACHE)
def report(settings: Settings, check: DriftCheck) -> list[str]:
    create_markdown_artifact(report_markdown(check), key="drift-report")
    create_table_artifact([test.to_dict() for test in check.report.tests], key="drift-tests")
    return record_check(settings, check)


@flow(name="drift-check")
def drift_check(current: str | None = None, retrain: bool = True) -> DriftOutcome:
    """Tests the newest visits against the champion's training data; on drift (and with
    `retrain`), rebuilds the dataset and trains a challenger for the gate."""
    from flows.dataset import build_dataset
    from flows.training import train

    settings = Settings()
    # Test the window against the champion's own training data
    check = test_window(settings, current)
    # Report: JSON file, MLflow run, Prefect artifacts, Pushgateway
    check = replace(check, warnings=report(settings, check))
    champion = check.model_version
    if not check.report.drift:
        return DriftOutcome(check, False, False, champion, "no drift: nothing to do")
    if not retrain:
        return DriftOutcome(check, False, False, champion, "drift: reported only (--no-retrain)")
    # On drift: rebuild the dataset with the new exports, train, and let the gate decide
    settings.workspace.work.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(settings.workspace.lock("retrain"), timeout=0):
            build_dataset()
            outcome = train()
    except Timeout:
        return DriftOutcome(check, False, False, champion, "drift: another check is retraining")
    action = f"retrained: v{outcome.model_version} {'promoted' if outcome.promoted else 'kept out'}"
    return DriftOutcome(check, True, outcome.promoted, outcome.champion or champion, action)
