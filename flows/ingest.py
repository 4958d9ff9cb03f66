"""The ingest flow: land exports (by default the next one of the analytics system)."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from juice.data.ingest import IngestError, IngestResult, ingest_into
from juice.settings import Settings


@task(cache_policy=NO_CACHE)
def land(sources: list[str], settings: Settings) -> IngestResult:
    return ingest_into(sources, settings)


@flow(name="ingest")
def ingest_exports(sources: list[str] | None = None) -> IngestResult:
    """Lands `sources` (files, folders, URLs) or, with none, the next simulated export; the
    run fails if a source was refused (after the others landed)."""
    result = land(sources or [], Settings())
    if result.refused:
        raise IngestError("; ".join(refusal.reason for refusal in result.refused))
    return result
