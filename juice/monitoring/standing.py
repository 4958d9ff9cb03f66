"""The champion's standing, gathered from what the tracking server holds (so the service in
a container, which sees only the MLflow server, answers as the workspace does): its
record on each labelled export since it began serving, the expectation on visits not
labelled yet, and the timeline of drift incidents and changes of champion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from juice.model.card import ModelCard
from juice.monitoring.check import INCIDENT_TAGS, RECORD_TAG
from juice.monitoring.record import (
    ChampionRecord,
    ExportRecord,
    TimelineEvent,
    pooled,
    traffic_expectation,
)
from juice.registry.listing import list_versions
from juice.registry.store import CHECKS_EXPERIMENT, Registry

TIMELINE_EVENTS = 50  # the newest shown
_CHECK_RUNS = 5000  # a month of hourly checks, with room


def champion_record(
    registry: Registry | None, card: ModelCard, prediction_log: Path | None
) -> ChampionRecord:
    """The serving champion's standing (`card`'s version). Without a registry (a bento's
    packed model) only what the prediction log says; without a log, no expectation."""
    versions = list_versions(registry) if registry is not None else []
    current = next((v for v in versions if v.version == card.version), None)
    runs = _check_runs(registry) if registry is not None else []
    exports = _exports(runs, card.version)
    precision, recall = pooled(exports)
    visits, targeted, expected = (
        traffic_expectation(prediction_log, card.version) if prediction_log else (0, 0, None)
    )
    return ChampionRecord(
        version=card.version,
        serving_since=current.promoted_at if current else None,
        threshold=card.threshold,
        promised_precision=card.metrics.get("precision"),
        promised_recall=card.metrics.get("recall"),
        exports=exports,
        realised_precision=precision,
        realised_recall=recall,
        traffic_visits=visits,
        traffic_targeted=targeted,
        expected_precision=expected,
        timeline=_timeline(runs, versions),
    )


def _check_runs(registry: Registry) -> list[Any]:
    """The drift checks' runs, oldest first (retention prunes the oldest)."""
    experiment = registry.client.get_experiment_by_name(CHECKS_EXPERIMENT)
    if experiment is None:
        return []
    return list(
        registry.client.search_runs(
            [experiment.experiment_id],
            max_results=_CHECK_RUNS,
            order_by=["attributes.start_time ASC"],
        )
    )


def _exports(runs: list[Any], version: str) -> list[ExportRecord]:
    """The champion's record on each labelled export, from the first check that judged it."""
    seen: dict[str, ExportRecord] = {}
    for run in runs:
        found = run.data.tags
        if found.get("champion") != version or RECORD_TAG not in found:
            continue
        for item in json.loads(found[RECORD_TAG]):
            record = ExportRecord(**item)
            if record.labelled and record.source not in seen:
                seen[record.source] = record
    return list(seen.values())


def _timeline(runs: list[Any], versions: list[Any]) -> list[TimelineEvent]:
    """Incidents opened and closed (from the checks that moved them) and each version's
    latest promotion, with its reason, newest first."""
    incident, _, event, opened_at, closed_at, trigger = INCIDENT_TAGS
    events = []
    for run in runs:
        found = run.data.tags
        if found.get(event) == "opened":
            words = f"drift incident #{found[incident]} opened: {found.get(trigger, '')}"
            events.append(TimelineEvent(found.get(opened_at, ""), "incident-opened", words))
        elif found.get(event) == "closed":
            words = f"drift incident #{found[incident]} closed: the checks are stable again"
            events.append(TimelineEvent(found.get(closed_at, ""), "incident-closed", words))
    for version in versions:
        if version.promoted_at:
            words = (
                f"v{version.version} became the champion ({version.promoted_by}): {version.reason}"
            )
            events.append(TimelineEvent(version.promoted_at, "champion", words))
    return sorted(events, key=lambda item: item.at, reverse=True)[:TIMELINE_EVENTS]
