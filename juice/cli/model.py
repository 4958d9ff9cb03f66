"""Commands for the model: train, list and promote versions, score a file, check for drift."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from juice.cli.output import JsonOption, emit, load_settings
from juice.errors import JuiceError


def train(as_json: JsonOption = False) -> None:
    """Flow: grid search, decision threshold, MLflow run, registry, champion/challenger gate."""
    load_settings()
    from flows.training import train as flow
    from juice.model.evaluation import SUMMARY_METRICS

    outcome = flow()
    metrics = {key: outcome.metrics[key] for key in SUMMARY_METRICS}
    payload = {**asdict(outcome), "metrics": metrics, "all_metrics": outcome.metrics}
    shown = ", ".join(f"{key} {value:.4f}" for key, value in metrics.items())
    emit(
        as_json,
        payload,
        [
            (
                f"registered model version {outcome.model_version} "
                f"(dataset {outcome.dataset_version or 'unversioned'})"
            ),
            f"test: {shown}; threshold {outcome.threshold:.4f}",
            f"{'PROMOTED to champion' if outcome.promoted else 'not promoted'}: {outcome.reason}",
            f"champion: {outcome.champion or 'none'}",
        ],
    )


models_app = typer.Typer(help="The model registry.", no_args_is_help=False)


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List registered versions with metrics and aliases."""
    if ctx.invoked_subcommand is not None:
        return
    from juice.registry import memo
    from juice.registry.tags import CHAMPION_STATUS, OUTSIDE

    versions = memo.versions(load_settings())
    lines = [
        f"v{v.version:<4} {v.status:<17} threshold {v.threshold or 0:.3f}  "
        + "  ".join(f"{k} {x:.4f}" for k, x in v.metrics.items())
        + (f"  [{', '.join(v.aliases)}]" if v.aliases else "")
        + (
            "  (made the champion outside juice: no gate judged it)"
            if v.status == CHAMPION_STATUS and v.promoted_by == OUTSIDE
            else ""
        )
        for v in versions
    ] or ["no registered model yet: run `juice train`"]
    emit(as_json, {"versions": [asdict(v) for v in versions]}, lines)


@models_app.command()
def record(as_json: JsonOption = False) -> None:
    """How the champion is doing since it began serving: on each labelled export, the
    precision and recall it realised against what it promised; the precision it expects
    on the visits it scored; drift incidents and changes of champion."""
    from juice.monitoring.record import describe_record
    from juice.monitoring.standing import champion_record
    from juice.registry.store import Registry

    settings = load_settings()
    registry = Registry(settings)
    card = registry.card(registry.require_champion())
    standing = champion_record(registry, card, settings.workspace.prediction_log)
    emit(as_json, standing.to_dict(), describe_record(standing))


@models_app.command()
def promote(
    version: Annotated[
        str, typer.Argument(help="The version to serve (rollback or roll forward).")
    ],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "manual promotion",
    as_json: JsonOption = False,
) -> None:
    """Make a version the champion."""
    from juice.registry.promotion import promote as move_champion
    from juice.registry.store import Registry, parse_version

    version = parse_version(version)
    promotion = move_champion(Registry(load_settings()), version, reason, actor="cli")
    if promotion is None:
        emit(
            as_json,
            {"champion": version, "previous": version, "promoted": False},
            [f"v{version} is already the champion: nothing to do"],
        )
        return
    emit(
        as_json,
        {"champion": version, "previous": promotion.previous, "reason": reason, "promoted": True},
        [f"champion is now v{version} (was {promotion.previous or 'none'}): {reason}"],
    )


def predict(
    source: Annotated[Path, typer.Argument(help="An export, with or without label and header.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the scored CSV.")],
    as_json: JsonOption = False,
) -> None:
    """Score an export offline with the champion; bad rows are reported, not scored."""
    if not source.is_file():
        raise JuiceError(f"{source}: no such file")
    from juice.model.scoring import score_export
    from juice.params import seconds_bound
    from juice.registry import memo

    settings = load_settings()
    model = memo.champion(settings)
    result = score_export(
        source,
        out,
        model,
        max_seconds=seconds_bound(settings),
    )
    lines = [f"scored {result.rows_scored} rows with model v{model.version} -> {result.output}"]
    if result.rows_rejected:
        lines.append(f"rejected {result.rows_rejected} rows, with reasons: {result.rejected}")
    emit(as_json, asdict(result), lines)


def drift_check(
    current: Annotated[
        Path | None, typer.Option(help="Judge this export instead of the newly landed ones.")
    ] = None,
    retrain: Annotated[
        bool, typer.Option(help="On drift, rebuild the dataset and train a challenger.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Flow: the newest visits against the champion's reference (its training data, or a
    new regime it was confirmed on); drift is a result (exit 0), handled as an incident
    and reported as JSON, MLflow run, Prefect artifact and Pushgateway metrics."""
    if current is not None and not current.is_file():
        raise JuiceError(f"{current}: no such file")
    from juice.registry.store import Registry

    Registry(load_settings()).require_champion()  # say so before Prefect starts
    from flows.drift import drift_check as flow
    from juice.monitoring.incidents import incident_line

    outcome = flow(current=str(current) if current else None, retrain=retrain)
    check, report = outcome.check, outcome.check.report
    incident = outcome.incident
    incident_lines = [incident_line(incident, outcome.incident_event)] if incident else []
    flagged = ", ".join(report.drifted_features) or "none"
    reference = f"{report.reference_rows} visits) vs {report.window_rows} new visits"
    concept = "yes" if report.concept_drift else "no"
    emit(
        as_json,
        outcome.to_dict(),
        [
            f"{report.verdict.upper()}: {report.reason}",
            f"champion v{check.model_version} (data {check.reference_version[:12]}, {reference}",
            f"drifted features: {flagged}; concept drift: {concept}",
            f"{outcome.action}; champion now v{outcome.model_version}",
            *incident_lines,
            f"report: {check.report_file}",
            *(f"warning: {warning}" for warning in check.warnings),
        ],
    )
