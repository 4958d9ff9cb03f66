"""The dataset flow: ingest -> parse -> quarantine -> validate -> publish -> version."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.ingest import land
from juice.data import dataset, versioning
from juice.data.cache import ExportCache
from juice.data.staging import staging_area
from juice.data.validation import ValidationReport
from juice.params import BuildDatasetParams, workspace_params
from juice.settings import Settings


@task(cache_policy=NO_CACHE, task_run_name="parse {export.name}")
def parse(export: Path, staging: Path, params: BuildDatasetParams) -> dataset.Parsed:
    return dataset.parse_landed(export, staging, params)


@task(cache_policy=NO_CACHE, task_run_name="validate {parsed.source}")
def validate(
    export: Path, parsed: dataset.Parsed, params: BuildDatasetParams, cache: ExportCache
) -> ValidationReport:
    report = dataset.validate_parsed(parsed, params)
    dataset.cache_results(export, parsed, report, cache)
    return report


@task(cache_policy=NO_CACHE, task_run_name="reuse cached results")
def reuse(exports: list[Path], staging: Path, cache: ExportCache) -> dict[Path, dataset.Batch]:
    return dataset.reuse_cached(exports, staging, cache)


@task(cache_policy=NO_CACHE)
def publish(batches: list[dataset.Batch], settings: Settings) -> dataset.BuildSummary:
    return dataset.publish(batches, settings)


@task(cache_policy=NO_CACHE)
def version(settings: Settings) -> str:
    return versioning.version_dataset(settings)


@flow(name="build-dataset")
def build_dataset(
    sources: list[str] | None = None, versioned: bool = True, since: str | None = None
) -> dataset.BuildSummary:
    """Builds the training dataset from the landing zone (after landing `sources`, if any);
    with `since`, from that export on only (a new regime's data)."""
    settings = Settings()
    params = workspace_params(settings).build_dataset
    # Ingest
    if sources:
        land(sources, settings)
    with versioning.landing_lock(
        settings.workspace
    ):  # no export lands until DVC has recorded the build
        exports = dataset.landed_exports(settings, params.recent_exports, since)
        cache = ExportCache(settings.workspace.export_cache, params)
        with staging_area(settings.workspace) as staging:
            # Reuse what was cached; parse, quarantine and validate the rest
            cached = reuse(exports, staging, cache)
            reused, batches = len(cached), []
            for export in exports:
                if export not in cached:
                    parsed = parse(export, staging, params)
                    cached[export] = (parsed, validate(export, parsed, params, cache))
                batches.append(cached[export])
            # Publish the valid batches
            summary = replace(publish(batches, settings), reused=reused)
        cache.prune()
        # Version with DVC
        if versioned:
            summary = replace(summary, dataset_version=version(settings))
    return summary
