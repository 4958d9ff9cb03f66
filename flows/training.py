"""The training flow: dataset -> grid search -> threshold -> MLflow run -> registry -> gate."""

from __future__ import annotations

from typing import Any

import polars as pl
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from juice import dataset, versioning
from juice.gate import GateDecision, judge
from juice.params import TrainParams, load_params
from juice.registry import ModelCard, Registry, git_commit
from juice.settings import Settings
from juice.training import TrainedModel, TrainingOutcome, train_model, write_outcome


@task(cache_policy=NO_CACHE)
def load_dataset(settings: Settings) -> tuple[pl.DataFrame, str | None]:
    visits = dataset.read_dataset(settings)
    try:
        version = versioning.dataset_version(settings)
    except versioning.VersioningError:
        version = None  # built with --no-version: trained, but without a data version
    return visits, version


@task(cache_policy=NO_CACHE)
def fit(visits: pl.DataFrame, params: TrainParams) -> TrainedModel:
    return train_model(visits, params)


@task(cache_policy=NO_CACHE)
def register(
    trained: TrainedModel, lineage: dict[str, str | None], params: TrainParams, registry: Registry
) -> ModelCard:
    return registry.log_training(trained, lineage, _flat(params.model_dump()))


@task(cache_policy=NO_CACHE)
def challenge(
    trained: TrainedModel, params: TrainParams, registry: Registry
) -> tuple[GateDecision, str | None]:
    champion = registry.champion_version()
    incumbent = None
    if champion is not None:
        model = registry.model(champion)
        incumbent = model.predict_proba(trained.split.x_test)[:, 1]
    decision = judge(
        trained.split.y_test,
        trained.test_probability,
        incumbent,
        params.gate,
        f"champion v{champion}",
    )
    return decision, champion


@flow(name="train")
def train() -> TrainingOutcome:
    """Trains a challenger on the published dataset; promotes it if it passes the gate."""
    settings = Settings()
    params = load_params(settings.params_file).train
    # Load the validated dataset
    visits, dataset_version = load_dataset(settings)
    # Search pipelines, choose the threshold, evaluate on the test rows
    trained = fit(visits, params)
    # Track the run and register the model
    lineage = {
        "dataset_version": dataset_version,
        "git_commit": git_commit(),
        "prefect_flow_run": flow_run.get_id(),
    }
    registry = Registry(settings)
    card = register(trained, lineage, params, registry)
    # Gate: the challenger against the champion on the same fresh test rows
    decision, champion = challenge(trained, params, registry)
    registry.record_decision(card.version, decision)
    if decision.promote:
        registry.promote(card.version, decision.reason)
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
    return outcome


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat
