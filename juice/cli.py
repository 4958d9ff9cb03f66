"""The `juice` command line: one command per step, `--json` for scripts."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from juice.errors import JuiceError
from juice.settings import Settings

app = typer.Typer(
    help="PolJuice purchase prediction: data, training, serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


def main() -> None:
    """Entry point: any failure becomes one line on stderr and a non-zero exit."""
    try:
        app(standalone_mode=False)
    except typer.Abort:
        _fail("aborted")
    except (typer.BadParameter, typer.Exit) as done:
        if isinstance(done, typer.Exit):
            sys.exit(done.exit_code)
        raise
    except JuiceError as error:
        _fail(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in first["loc"])
        _fail(f"invalid setting {where}: {message}" if where else message)
    except Exception as error:  # pragma: no cover - the last line of defence
        if os.environ.get("JUICE_DEBUG"):
            raise
        _fail(f"{type(error).__name__}: {error}")


def _fail(reason: str) -> None:
    print(f"juice: error: {' '.join(reason.split())}", file=sys.stderr)
    sys.exit(1)


def _emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        print("\n".join(lines))


def _settings() -> Settings:
    settings = Settings()
    from flows.runtime import prepare_environment

    prepare_environment(settings)
    return settings


@app.command()
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
    from juice.simulator import SCENARIOS, write_export
    from juice.simulator import simulate as run

    if scenario not in SCENARIOS:
        raise JuiceError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    visits = run(rows, seed, scenario)
    write_export(visits, out, header=header)
    rate = float(visits["purchased"].mean())
    _emit(
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


@app.command()
def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders of .csv or http(s) URLs; none: the simulator."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Land exports in the workspace's landing zone (each file once)."""
    from juice.ingest import SimulatorSource
    from juice.ingest import ingest as land

    settings = _settings()
    result = land(
        sources or [],
        settings.landing_dir,
        SimulatorSource(settings.sim_rows, settings.sim_scenario, settings.sim_seed),
        timeout=settings.http_timeout_seconds,
        attempts=settings.http_attempts,
    )
    lines = [f"landed {path}" for path in result.files]
    lines += [f"skipped {name} (already ingested)" for name in result.skipped]
    lines.append(f"{len(result.files)} landed, {len(result.skipped)} skipped")
    _emit(as_json, {"files": [str(p) for p in result.files], "skipped": result.skipped}, lines)


@app.command("build-dataset")
def build_dataset(
    version: Annotated[bool, typer.Option(help="Record and push the result with DVC.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any export fails validation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Flow: parse the landed exports, quarantine bad rows, validate, publish, version.

    An export that fails validation is left out of the dataset and reported; it stays
    in the landing zone.
    """
    _settings()
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
    _emit(as_json, payload, lines)
    if summary.rejected:
        names = ", ".join(batch.export for batch in summary.rejected)
        message = f"{len(summary.rejected)} export(s) failed validation, not published: {names}"
        if strict:
            _fail(message)
        print(f"juice: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    main()
