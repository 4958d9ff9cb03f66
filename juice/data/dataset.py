"""Build the training dataset from the landing zone: parse, quarantine, validate, publish.

The build is a pure function of the landed exports (in landing order) and the
parameters, so DVC can rebuild it: each run swaps in the new dataset whole. An export
already processed with the same content and parameters is not processed again: its
cached results are the bytes a fresh run would write (`juice.data.cache`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
from filelock import FileLock

from juice.data.cache import ExportCache
from juice.data.parsing import ParseError, ParseResult, parse_export
from juice.data.validation import ValidationReport, validate_batch
from juice.errors import JuiceError
from juice.params import BuildDatasetParams
from juice.settings import Settings
from juice.workspace import Workspace


@dataclass(frozen=True)
class BatchOutcome:
    """One export's journey: counts, verdict, and where its report lives."""

    export: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    valid: bool
    verdict: str
    report: str


@dataclass(frozen=True)
class BuildSummary:
    """What `build-dataset` did, as printed and as kept in data/build-dataset.json."""

    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    valid: bool
    dataset_rows: int
    batches: list[BatchOutcome]
    dataset_version: str | None = None
    # Exports whose cached results were reused (not in the file: the dataset and its record
    # are the same however they were computed).
    reused: int = 0

    @property
    def rejected(self) -> list[BatchOutcome]:
        return [batch for batch in self.batches if not batch.valid]


@dataclass(frozen=True)
class UnreadableExport:
    """A landed file the parser cannot read at all (empty, binary, compressed, a header it
    cannot map): rejected whole with its reason, kept in the landing zone; the other
    exports still build."""

    source: str
    reason: str


Parsed = ParseResult | UnreadableExport
Batch = tuple[Parsed, "ValidationReport"]

NO_EXPORT = "the landing zone holds no export: run `juice ingest` first"


def landed_exports(
    settings: Settings, recent: int | None = None, since: str | None = None
) -> list[Path]:
    """The exports in the landing zone in landing order (landed files are read-only, so
    their modification time is when they landed): only the `recent` last if given, only
    from the export named `since` on if given (none if it is not there)."""
    landing = settings.workspace.landing
    exports = sorted(landing.glob("*.csv"), key=_landed_at) if landing.is_dir() else []
    if since is not None:
        names = [path.name for path in exports]
        exports = exports[names.index(since) :] if since in names else []
    return exports[-recent:] if recent else exports


def _landed_at(path: Path) -> tuple[float, str]:
    return path.stat().st_mtime, path.name


def parse_landed(export: Path, staging: Path, params: BuildDatasetParams) -> Parsed:
    """Parses one landed export into the staging area."""
    try:
        return parse_export(
            export, *_staged(export, staging), max_seconds=params.max_seconds, source=export.name
        )
    except ParseError as error:
        return UnreadableExport(export.name, error.reason)


def reuse_cached(exports: list[Path], staging: Path, cache: ExportCache) -> dict[Path, Batch]:
    """The exports processed before with the same content and parameters, their results
    placed in the staging area as a fresh parse would place them."""
    cached: dict[Path, Batch] = {}
    for export in exports:
        if (batch := cache.get(export, *_staged(export, staging))) is not None:
            cached[export] = batch
    return cached


def cache_results(
    export: Path, parsed: Parsed, report: ValidationReport, cache: ExportCache
) -> None:
    """Keeps a fresh result for the next build (a file that cannot be read is cheap to
    refuse again)."""
    if isinstance(parsed, ParseResult):
        cache.put(export, parsed, report)


def _staged(export: Path, staging: Path) -> tuple[Path, Path]:
    return (
        staging / "accepted" / f"{export.stem}.parquet",
        staging / "quarantine" / f"{export.stem}.csv",
    )


def validate_parsed(parsed: Parsed, params: BuildDatasetParams) -> ValidationReport:
    """Runs the expectation suite on one parsed export (an unreadable one fails it)."""
    if isinstance(parsed, UnreadableExport):
        return ValidationReport.unreadable(parsed.source, parsed.reason)
    return validate_batch(
        pl.read_parquet(parsed.accepted_path),
        name=parsed.source,
        lines_read=parsed.rows_read,
        params=params.validation,
        max_seconds=params.max_seconds,
    )


def publish(batches: list[Batch], settings: Settings) -> BuildSummary:
    """Swaps in the new dataset (valid batches only), quarantine files and reports."""
    if not batches:
        raise JuiceError(NO_EXPORT)
    workspace = settings.workspace
    targets = {"dataset": workspace.dataset, "quarantine": workspace.quarantine,
               "reports": workspace.reports}  # fmt: skip
    workspace.work.mkdir(parents=True, exist_ok=True)
    with FileLock(workspace.lock("publish")):
        fresh = {name: target.with_name(f".{target.name}.new") for name, target in targets.items()}
        for folder in fresh.values():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        outcomes = [_place(parsed, report, fresh, workspace) for parsed, report in batches]
        for name, folder in fresh.items():
            _swap(folder, targets[name])

        dataset_rows = sum(batch.rows_accepted for batch in outcomes if batch.valid)
        summary = BuildSummary(
            rows_read=sum(batch.rows_read for batch in outcomes),
            rows_accepted=sum(batch.rows_accepted for batch in outcomes),
            rows_quarantined=sum(batch.rows_quarantined for batch in outcomes),
            valid=all(batch.valid for batch in outcomes),
            dataset_rows=dataset_rows,
            batches=outcomes,
        )
        write_summary(summary, settings)
    return summary


def write_summary(summary: BuildSummary, settings: Settings) -> Path:
    path = settings.workspace.build_summary
    record = {name: value for name, value in asdict(summary).items() if name != "reused"}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _place(
    parsed: Parsed, report: ValidationReport, fresh: dict[str, Path], workspace: Workspace
) -> BatchOutcome:
    stem = Path(parsed.source).stem
    report_path = report.write(fresh["reports"] / f"{stem}.json")
    if isinstance(parsed, ParseResult):
        shutil.move(parsed.quarantine_path, fresh["quarantine"] / f"{stem}.csv")
        if report.success:
            shutil.move(parsed.accepted_path, fresh["dataset"] / f"{stem}.parquet")
        else:
            parsed.accepted_path.unlink(missing_ok=True)
    return BatchOutcome(
        export=parsed.source,
        rows_read=report.lines_read,
        rows_accepted=report.rows,
        rows_quarantined=report.lines_read - report.rows,
        valid=report.success,
        verdict=report.summary(),
        report=workspace.relative(workspace.reports / report_path.name),
    )


def _swap(fresh: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
