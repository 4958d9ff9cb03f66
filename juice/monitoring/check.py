"""A drift check of the champion: its training data against the newest visits, what followed,
and its report (written once, complete)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from juice.data.snapshots import find_snapshot
from juice.errors import JuiceError
from juice.model.matrix import to_matrix
from juice.monitoring.drift import DriftReport, detect_drift
from juice.monitoring.pushgateway import push_drift
from juice.monitoring.window import new_exports, read_window
from juice.params import Params
from juice.registry import runs
from juice.registry.store import Registry
from juice.schema import LABEL
from juice.settings import Settings
from juice.workspace import prune


@dataclass(frozen=True)
class DriftCheck:
    """One check: the verdict, what was compared, and where its report went."""

    report: DriftReport
    model_version: str  # the champion judged
    reference_version: str  # the content hash of the data it was trained on
    window_sources: list[str]
    rows_set_aside: int  # window lines that broke the export format
    report_file: Path
    checked_at: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as `juice drift-check --json` prints it (before any retraining)."""
        return {
            **self.report.to_dict(),
            "reference_version": self.reference_version,
            "model_version": self.model_version,
            "window_sources": self.window_sources,
            "rows_set_aside": self.rows_set_aside,
            "report_file": str(self.report_file),
            "checked_at": self.checked_at,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class DriftOutcome:
    """A check and what followed it: `juice drift-check --json`, and the report's content."""

    check: DriftCheck
    retrained: bool
    promoted: bool
    model_version: str  # the champion after the check
    action: str  # what was done after the verdict, in words
    smoke_test: str | None = None  # after a promotion: what the live service showed

    def to_dict(self) -> dict[str, Any]:
        after = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "check"}
        return {**self.check.to_dict(), **after}


def check_drift(settings: Settings, params: Params, current: Path | None = None) -> DriftCheck:
    """Judges the window (the exports landed since the champion's training data, or
    `current`) against that data; where its report will go is decided, nothing written."""
    registry = Registry(settings)
    version = registry.require_champion()
    pipeline, card = registry.load(version)
    if not card.data_hash:
        raise JuiceError(
            f"champion v{version} does not record the data it was trained on "
            "(it predates data hashes): retrain it with `juice train`"
        )
    reference = find_snapshot(settings, card.data_hash)
    if current is not None and not current.is_file():
        raise JuiceError(f"{current}: no such file")
    paths = [current] if current else new_exports(settings, reference.sources)
    window = read_window(paths, params.build_dataset.max_seconds)
    if current is not None and window.unreadable:
        raise JuiceError(window.unreadable[0])
    labelled = LABEL in window.visits.columns and window.visits[LABEL].is_not_null().any()
    probability = None
    if window.visits.height and labelled:
        probability = pipeline.predict_proba(to_matrix(window.visits))[:, 1]
    report = detect_drift(
        reference.read(),
        window.visits,
        params.drift_check,
        probability,
        card.metrics.get("average_precision"),
    )
    checked_at = datetime.now(UTC)
    folder = settings.workspace.drift_reports
    return DriftCheck(
        report=report,
        model_version=version,
        reference_version=card.data_hash,
        window_sources=window.sources,
        rows_set_aside=window.rows_set_aside,
        report_file=folder / f"{checked_at:%Y%m%dT%H%M%S%fZ}-drift.json",
        checked_at=checked_at.isoformat(timespec="seconds"),
        warnings=[f"left out, cannot be read: {unreadable}" for unreadable in window.unreadable],
    )


def push_check(settings: Settings, check: DriftCheck) -> list[str]:
    """Pushes the verdict to the Pushgateway (when one is configured), as soon as it is
    known; returns warnings for what could not be done (a check still counts)."""
    if not settings.pushgateway_url:
        return []
    try:
        push_drift(settings.pushgateway_url, check.report, check.model_version)
    except OSError as error:
        return [str(error)]
    return []


def record_outcome(settings: Settings, outcome: DriftOutcome) -> None:
    """Writes the check's report once, complete (the verdict and what followed), keeps it
    as an MLflow run, and removes reports and check runs past the retention."""
    check = outcome.check
    folder = check.report_file.parent
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(outcome.to_dict(), indent=2, allow_nan=False) + "\n"
    partial = check.report_file.with_name(f".{check.report_file.name}.partial")
    partial.write_text(text)
    partial.replace(check.report_file)  # whole or not at all
    prune(folder, settings.retention_days, "*-drift.json")
    report = check.report
    registry = Registry(settings)
    runs.log_check(registry,
        "drift-check",
        {"verdict": report.verdict, "champion": check.model_version,
         "reference_version": check.reference_version},
        {"drift": float(report.drift), "concept_drift": float(report.concept_drift),
         "window_rows": float(report.window_rows),
         "drifted_features": float(len(report.drifted_features))},
        check.report_file,
    )  # fmt: skip
    runs.prune_checks(registry, settings.retention_days)


def action_markdown(outcome: DriftOutcome) -> str:
    """What followed the verdict, for people."""
    lines = [f"# {outcome.action}", "", f"Champion now: v{outcome.model_version}."]
    if outcome.smoke_test:
        lines.append(f"Smoke test of the live service: {outcome.smoke_test}.")
    return "\n".join(lines)


def report_markdown(check: DriftCheck) -> str:
    """The check for people: the verdict and its reason, then the tests that flagged drift."""
    report = check.report
    lines = [
        f"# Drift check: {report.verdict}",
        "",
        report.reason,
        "",
        (
            f"Champion v{check.model_version}, trained on data `{check.reference_version[:12]}` "
            f"({report.reference_rows:,} visits), against {report.window_rows:,} visits from "
            f"{', '.join(check.window_sources) or 'no new export'}."
        ),
    ]
    flagged = [test for test in report.tests if test.drift]
    if flagged:
        lines += [
            "",
            "| feature | test | effect | corrected p-value |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {t.feature} | {t.test} | {t.effect:.3f} | {t.p_value:.2e} |"
            for t in flagged
            if t.effect is not None and t.p_value is not None
        ]
    return "\n".join(lines)
