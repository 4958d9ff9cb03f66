"""The training flow: dataset -> grid search -> threshold -> MLflow run -> registry -> gate."""

from __future__ import annotations

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from juice.data import versioning
from juice.data.snapshots import DatasetSnapshot, snapshot_dataset
from juice.model.card import ModelCard
from juice.model.evaluation import SUMMARY_METRICS
from juice.model.training import TrainedModel, TrainingOutcome, train_model, write_outcome
from juice.monitoring.pushgateway import push_training
from juice.params import TrainParams, workspace_params
from juice.registry import promotion, runs
from juice.registry.gate import GateDecision
from juice.registry.store import Registry
from juice.settings import Settings


@task(cache_policy=NO_CACHE)
def load_dataset(settings: Settings) -> tuple[pl.DataFrame, DatasetSnapshot, str | None]:
    snapshot = snapshot_dataset(settings)
    try:
        version = versioning.dataset_version(settings)
    except versioning.VersioningError:
        version = None  # built with --no-version: trained, but without a data version
    return snapshot.read(), snapshot, version


@task(cache_policy=NO_CACHE)
def fit(visits: pl.DataFrame, params: TrainParams) -> TrainedModel:
    return train_model(visits, params)


@task(cache_policy=NO_CACHE)
def register(
    trained: TrainedModel, lineage: dict[str, str | None], params: TrainParams, registry: Registry
) -> ModelCard:
    return runs.log_training(registry, trained, lineage, params.flat())


@task(cache_policy=NO_CACHE)
def judge(
    trained: TrainedModel, params: TrainParams, registry: Registry, improve: bool
) -> tuple[GateDecision, str | None]:
    return promotion.challenge(trained, params.gate, registry, improve=improve)


@flow(name="train")
def train(must_improve: bool = False) -> TrainingOutcome:
    """Trains a challenger on the published dataset; promotes it if it passes the gate
    (with `must_improve`, only if it beats the champion)."""
    settings = Settings()
    params = workspace_params(settings).train
    registry = Registry(settings, create=True)
    # Mark FAILED what killed trainings left running (never a live one's)
    for run_id in runs.fail_abandoned(registry):
        get_run_logger().warning(f"run {run_id} of a killed training marked FAILED")
    # Load the validated dataset
    visits, snapshot, dataset_version = load_dataset(settings)
    # Search pipelines, choose the threshold, evaluate on the test rows
    trained = fit(visits, params)
    # Track the run and register the model
    lineage = {
        "dataset_version": dataset_version,
        "data_hash": snapshot.data_hash,
        "git_commit": runs.git_commit(),
        "prefect_flow_run": flow_run.get_id(),
    }
    card = register(trained, lineage, params, registry)
    # Gate: the challenger against the champion of this moment (the registry's lock is
    # held from judging to promoting), on the same fresh test rows
    with registry.locked():
        decision, champion = judge(trained, params, registry, must_improve)
        promotion.record_decision(registry, card.version, decision)
        if decision.promote:
            promotion.promote(registry, card.version, decision.reason)
    outcome = TrainingOutcome(
        model_version=card.version,
        promoted=decision.promote,
        reason=decision.reason,
        threshold=card.threshold,
        metrics=card.metrics,
        champion=card.version if decision.promote else champion,
        dataset_version=dataset_version,
    )
    write_outcome(outcome, settings)
    if settings.pushgateway_url:
        push(settings.pushgateway_url, outcome)
    return outcome


@task(cache_policy=NO_CACHE)
def push(url: str, outcome: TrainingOutcome) -> None:
    try:
        push_training(url, outcome.model_version, outcome.promoted, outcome.champion,
                      {key: outcome.metrics[key] for key in SUMMARY_METRICS},
                      auth=Settings().monitoring_auth())  # fmt: skip
    except OSError as error:  # a training stands whether or not a dashboard hears of it
        get_run_logger().warning(str(error))
