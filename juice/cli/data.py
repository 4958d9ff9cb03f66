"""Commands for the data: simulate an export, land exports, build the dataset."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from juice.cli.output import JsonOption, emit, fail, load_settings
from juice.errors import JuiceError


def simulate(
    out: Annotated[Path, typer.Option(help="Where to write the export.")],
    rows: Annotated[int, typer.Option(min=1, help="Visits to simulate.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    scenario: Annotated[
        str, typer.Option(help="stable, older-visitors, campaign, concept.")
    ] = "stable",
    header: Annotated[bool, typer.Option(help="Write a header row.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write an export from the simulated analytics system."""
    import polars as pl

    from juice.data.simulator import SCENARIOS, write_export
    from juice.data.simulator import simulate as run

    if scenario not in SCENARIOS:
        raise JuiceError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    visits = run(rows, seed, scenario)
    write_export(visits, out, header=header)
    rate = float(visits.select(pl.col("purchased").mean()).item())
    emit(
        as_json,
        {
            "output": str(out),
            "rows": rows,
            "seed": seed,
            "scenario": scenario,
            "purchase_rate": rate,
        },
        [f"wrote {rows} visits ({scenario}, seed {seed}, purchase rate {rate:.1%}) to {out}"],
    )


def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders of .csv or http(s) URLs; none: the simulator."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Land exports in the workspace's landing zone (each file once, a gzip decompressed).

    A source that is not an export (empty, binary, not CSV), too big (JUICE_INGEST_MAX_SIZE)
    or too slow to download (JUICE_INGEST_DEADLINE_SECONDS) is refused with the reason;
    the others still land.
    """
    from juice.data.ingest import ingest_into

    result = ingest_into(sources or [], load_settings())
    lines = [
        f"landed {path}" + (" (decompressed from gzip)" if path in result.decompressed else "")
        for path in result.files
    ]
    lines += [f"skipped {name} (already ingested)" for name in result.skipped]
    lines += [f"refused {refusal.reason}" for refusal in result.refused]
    lines.append(
        f"{len(result.files)} landed, {len(result.skipped)} skipped, {len(result.refused)} refused"
    )
    payload = {
        "files": [str(p) for p in result.files],
        "skipped": result.skipped,
        "refused": [asdict(refusal) for refusal in result.refused],
        "decompressed": [str(p) for p in result.decompressed],
    }
    emit(as_json, payload, lines)
    if result.refused:
        fail(f"{len(result.refused)} source(s) refused: {result.refused[0].reason}")


def build_dataset(
    version: Annotated[bool, typer.Option(help="Record and push the result with DVC.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any export is rejected.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Flow: parse the landed exports, quarantine bad rows, validate, publish, version.

    An export that fails validation, or cannot be read at all, is left out of the dataset
    and reported; it stays in the landing zone.
    """
    from juice.data.dataset import NO_EXPORT, landed_exports

    if not landed_exports(load_settings()):  # say so before Prefect starts
        raise JuiceError(NO_EXPORT)
    from flows.dataset import build_dataset as flow

    summary = flow(versioned=version)
    payload = {**asdict(summary)}
    lines = [
        f"{batch.export}: {batch.rows_read} read, {batch.rows_accepted} accepted, "
        f"{batch.rows_quarantined} quarantined, {'valid' if batch.valid else 'REJECTED'}"
        for batch in summary.batches
    ]
    lines += [f"  {batch.verdict} (report: {batch.report})" for batch in summary.rejected]
    lines.append(
        f"dataset: {summary.dataset_rows} rows from {len(summary.batches) - len(summary.rejected)}"
        f" of {len(summary.batches)} exports; version {summary.dataset_version or 'not recorded'}"
    )
    if summary.reused:
        lines.append(f"reused the kept results of {summary.reused} unchanged export(s)")
    emit(as_json, payload, lines)
    if summary.rejected:
        names = ", ".join(batch.export for batch in summary.rejected)
        message = f"{len(summary.rejected)} export(s) rejected, not published: {names}"
        if strict:
            fail(message)
        print(f"juice: warning: {message}", file=sys.stderr)
