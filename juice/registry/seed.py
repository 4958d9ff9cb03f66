"""A champion in one call, without the flows: for tests, benchmarks and demos."""

from __future__ import annotations

import polars as pl

from juice.model.card import ModelCard
from juice.model.training import train_model
from juice.params import TrainParams
from juice.registry import promotion, runs
from juice.registry.store import Registry
from juice.settings import Settings


def seed_champion(
    visits: pl.DataFrame, params: TrainParams, settings: Settings, dataset_version: str = "seed"
) -> ModelCard:
    """Trains on `visits`, registers the model and makes it the champion whatever the
    gate says (its verdict is kept as the reason); returns the new version's card."""
    trained = train_model(visits, params)
    registry = Registry(settings, create=True)
    card = runs.log_training(registry, trained, {"dataset_version": dataset_version}, params.flat())
    decision, _ = promotion.challenge(trained, params.gate, registry)
    promotion.record_decision(registry, card.version, decision)
    promotion.promote(registry, card.version, f"seeded ({decision.reason})", actor="seed")
    return card
