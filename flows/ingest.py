"""The ingest flow: land exports (by default the next one of the analytics system)."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from juice.data import versioning
from juice.data.ingest import IngestResult, SimulatorSource, ingest
from juice.settings import Settings


@task(cache_policy=NO_CACHE)
def land(sources: list[str], settings: Settings) -> IngestResult:
    with versioning.landing_lock(settings):
        return ingest(
            sources,
            settings.workspace.landing,
            SimulatorSource(settings.sim_rows, settings.sim_scenario, settings.sim_seed),
            timeout=settings.http_timeout_seconds,
            attempts=settings.http_attempts,
        )


@flow(name="ingest")
def ingest_exports(sources: list[str] | None = None) -> IngestResult:
    """Lands `sources` (files, folders, URLs) or, with none, the next simulated export."""
    return land(sources or [], Settings())
