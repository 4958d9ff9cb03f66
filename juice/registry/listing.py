"""The registered versions as `juice models` lists them: status, metrics, threshold, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from juice.model.evaluation import SUMMARY_METRICS
from juice.registry import tags
from juice.registry.store import CHAMPION, EXPERIMENT, Registry

_RUNS_PER_QUERY = 100  # run ids in one search (a month of hourly retrains is hundreds)


@dataclass(frozen=True)
class VersionSummary:
    version: str
    aliases: list[str]
    metrics: dict[str, float]
    threshold: float | None
    status: str  # champion | promoted earlier | rejected | failed | pending
    reason: str | None
    dataset_version: str | None
    created_at: str
    promoted_at: str | None = None  # when it last became the champion
    promoted_by: str | None = None


def list_versions(registry: Registry) -> list[VersionSummary]:
    """Every registered version, newest first, with its training run's figures."""
    from mlflow.exceptions import MlflowException

    client = registry.client
    try:
        aliases = client.get_registered_model(registry.name).aliases
    except MlflowException:
        return []
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    found = sorted(
        client.search_model_versions(f"name='{registry.name}'"),
        key=lambda item: int(item.version),
        reverse=True,
    )
    figures = _run_metrics(registry, [item.run_id for item in found if item.run_id])
    return [
        _summary(item, sorted(by_version.get(str(item.version), [])), figures) for item in found
    ]


def _summary(item: Any, aliases: list[str], figures: dict[str, dict[str, float]]) -> VersionSummary:
    version_tags = item.tags or {}
    metrics = figures.get(item.run_id, {})
    if CHAMPION in aliases:
        status = tags.CHAMPION_STATUS
    elif tags.PROMOTED_AT in version_tags:
        status = tags.PROMOTED_EARLIER
    else:
        status = version_tags.get(tags.GATE, tags.PENDING)
    return VersionSummary(
        version=str(item.version),
        aliases=aliases,
        metrics={
            name: metrics[f"{tags.TEST_METRIC_PREFIX}{name}"]
            for name in SUMMARY_METRICS
            if f"{tags.TEST_METRIC_PREFIX}{name}" in metrics
        },
        threshold=metrics.get(tags.THRESHOLD_METRIC),
        status=status,
        reason=version_tags.get(tags.PROMOTION_REASON) or version_tags.get(tags.GATE_REASON),
        dataset_version=version_tags.get(tags.DATASET_VERSION),
        created_at=datetime.fromtimestamp(item.creation_timestamp / 1000, UTC).isoformat(
            timespec="seconds"
        ),
        promoted_at=version_tags.get(tags.PROMOTED_AT),
        promoted_by=version_tags.get(tags.PROMOTED_BY),
    )


def _run_metrics(registry: Registry, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """The training runs' metrics by run id, a few searches in all (not one per version)."""
    experiment = registry.client.get_experiment_by_name(EXPERIMENT)
    if experiment is None or not run_ids:
        return {}
    metrics: dict[str, dict[str, float]] = {}
    for start in range(0, len(run_ids), _RUNS_PER_QUERY):
        chunk = ", ".join(f"'{run_id}'" for run_id in run_ids[start : start + _RUNS_PER_QUERY])
        runs = registry.client.search_runs(
            [experiment.experiment_id], f"attributes.run_id IN ({chunk})",
            max_results=_RUNS_PER_QUERY,
        )  # fmt: skip
        metrics |= {run.info.run_id: dict(run.data.metrics) for run in runs}
    return metrics
