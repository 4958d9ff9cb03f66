"""A drift check of the champion: its training data against the newest visits, what followed,
and its report (written once, complete)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from juice.data.snapshots import find_snapshot
from juice.errors import JuiceError
from juice.model.matrix import to_matrix
from juice.model.served import ServedModel
from juice.monitoring.concept import Promise
from juice.monitoring.drift import DriftReport, detect_drift
from juice.monitoring.incidents import Incident
from juice.monitoring.pushgateway import push_drift
from juice.monitoring.record import ExportRecord, export_records
from juice.monitoring.window import new_exports, read_window
from juice.params import DriftParams, Params
from juice.registry import runs
from juice.registry.reconcile import reconcile
from juice.registry.reference import reference_of
from juice.registry.store import Registry
from juice.schema import LABEL
from juice.settings import Settings
from juice.workspace import prune


@dataclass(frozen=True)
class DriftCheck:
    """One check: the verdict, what was compared, and where its report went."""

    report: DriftReport
    model_version: str  # the champion judged
    reference_version: str  # the content hash of the data it was judged against
    window_sources: list[str]
    rows_set_aside: int  # window lines that broke the export format
    report_file: Path
    checked_at: str
    warnings: list[str] = field(default_factory=list)
    threshold: float | None = None  # the champion's
    promised_precision: float | None = None  # on its test data, at its threshold
    # The window's labels show it realising less than promised (beyond chance and the
    # tolerance); None when they cannot say.
    below_promise: bool | None = None
    exports: list[ExportRecord] = field(default_factory=list)  # its record on the window

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
            "threshold": self.threshold,
            "promised_precision": self.promised_precision,
            "below_promise": self.below_promise,
            "exports": [record.to_dict() for record in self.exports],
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
    incident: Incident | None = None  # the incident this check moved, or the last one
    incident_event: str = "none"  # what this check did to it: opened, ongoing, closed, none

    def to_dict(self) -> dict[str, Any]:
        moved = ("incident", "incident_event", "check")
        after = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in moved}
        incident = None
        if self.incident is not None:
            incident = {**self.incident.to_dict(), "event": self.incident_event}
        return {**self.check.to_dict(), **after, "incident": incident}


def check_drift(settings: Settings, params: Params, current: Path | None = None) -> DriftCheck:
    """Judges the window (the newest visits landed since the champion's reference data, at
    most `window_visits` of them, or `current`) against that data; where its report will
    go is decided, nothing written."""
    registry = Registry(settings)
    reconcile(registry)  # the champion judged is the one of record
    version = registry.require_champion()
    pipeline, card = registry.load(version)
    judged_against = reference_of(registry, card)
    reference = find_snapshot(settings, judged_against.data_hash)
    if current is not None and not current.is_file():
        raise JuiceError(f"{current}: no such file")
    paths = [current] if current else new_exports(settings, reference.sources)
    most = None if current else params.drift_check.window_visits
    window = read_window(paths, params.build_dataset.max_seconds, most)
    if current is not None and window.unreadable:
        raise JuiceError(window.unreadable[0])
    probability = None
    if window.visits.height:
        probability = ServedModel(pipeline, card).probabilities(to_matrix(window.visits))
    labelled = LABEL in window.visits.columns and window.visits[LABEL].is_not_null().any()
    report = detect_drift(
        reference.read(),
        window.visits,
        params.drift_check,
        probability if labelled else None,
        Promise.of(card.metrics, judged_against.average_precision),
        card.threshold,
    )
    checked_at = datetime.now(UTC)
    folder = settings.workspace.drift_reports
    return DriftCheck(
        report=report,
        model_version=version,
        reference_version=judged_against.data_hash,
        window_sources=window.sources,
        rows_set_aside=window.rows_set_aside,
        report_file=folder / f"{checked_at:%Y%m%dT%H%M%S%fZ}-drift.json",
        checked_at=checked_at.isoformat(timespec="seconds"),
        warnings=[f"left out, cannot be read: {unreadable}" for unreadable in window.unreadable],
        threshold=card.threshold,
        promised_precision=card.metrics.get("precision"),
        below_promise=_below_promise(report, card.metrics.get("precision"), params.drift_check),
        exports=export_records(window.visits, probability, card.threshold),
    )


def _below_promise(report: DriftReport, promised: float | None, params: DriftParams) -> bool | None:
    """Whether the precision the champion realised on the window's targeted visitors lies
    below its promise (its test precision) by more than the tolerance, at the interval's
    upper end; None without labelled targeted visitors or a promise."""
    concept = report.concept
    if promised is None or concept is None or concept.realised_precision_interval is None:
        return None
    return concept.realised_precision_interval[1] < promised - params.precision_tolerance


def push_check(settings: Settings, outcome: DriftOutcome) -> list[str]:
    """Pushes the verdict, the incident and the champion's precision to the Pushgateway
    (when one is configured); returns warnings for what could not be done (a check
    still counts)."""
    if not settings.pushgateway_url:
        return []
    try:
        check, concept = outcome.check, outcome.check.report.concept
        precision = {
            "promised": check.promised_precision,
            "realised": concept.realised_precision if concept else None,
            "expected": concept.expected_precision if concept else None,
            "below_promise": check.below_promise,
        }
        push_drift(settings.pushgateway_url, check.report, check.model_version,
                   incident=outcome.incident, precision=precision,
                   auth=settings.monitoring_auth())  # fmt: skip
    except OSError as error:
        return [str(error)]
    return []


def record_outcome(settings: Settings, outcome: DriftOutcome, warnings: list[str]) -> DriftOutcome:
    """Writes the check's report once, complete (the verdict, what followed, `warnings`),
    keeps it as an MLflow run (with the incident and the champion's record on each export),
    and removes reports and check runs past the retention."""
    outcome = replace(
        outcome, check=replace(outcome.check, warnings=[*outcome.check.warnings, *warnings])
    )
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
         "reference_version": check.reference_version, **_incident_tags(outcome),
         RECORD_TAG: json.dumps([record.to_dict() for record in check.exports])},
        {"drift": float(report.drift), "concept_drift": float(report.concept_drift),
         "window_rows": float(report.window_rows),
         "drifted_features": float(len(report.drifted_features))},
        check.report_file,
    )  # fmt: skip
    runs.prune_checks(registry, settings.retention_days)
    return outcome


RECORD_TAG = "record"  # a check run's tag: the champion's record on each export judged
INCIDENT_TAGS = ("incident", "incident_state", "incident_event", "incident_opened_at",
                 "incident_closed_at", "incident_trigger")  # fmt: skip


def _incident_tags(outcome: DriftOutcome) -> dict[str, str]:
    """The incident a check moved, as tags of its run (the timeline's source)."""
    incident = outcome.incident
    if incident is None:
        return {}
    values = (str(incident.number), incident.state, outcome.incident_event, incident.opened_at,
              incident.closed_at or "", incident.trigger)  # fmt: skip
    return {name: value[:4000] for name, value in zip(INCIDENT_TAGS, values, strict=True)}


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
