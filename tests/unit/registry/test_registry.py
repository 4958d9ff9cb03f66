"""The MLflow registry: versions, cards, champion alias, promotions (real SQLite store)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import small_train_params

from juice.data.simulator import simulate
from juice.model.training import train_model
from juice.registry.gate import judge
from juice.registry.store import Registry, RegistryError


@pytest.fixture(scope="module")
def trained():
    return train_model(simulate(3000, seed=8), small_train_params())


def test_a_training_becomes_a_version_with_its_card(workspace, trained):
    registry = Registry(workspace)
    card = registry.log_training(
        trained, {"dataset_version": "abc", "git_commit": None}, {"beta": 0.3}
    )
    assert card.version == "1"
    assert card.dataset_version == "abc"
    assert card.threshold == trained.threshold.threshold
    assert registry.champion_version() is None  # registering is not promoting
    [listed] = registry.versions()
    assert listed.status == "pending"
    assert listed.threshold == pytest.approx(card.threshold)
    assert listed.metrics["roc_auc"] == pytest.approx(trained.evaluation.roc_auc)

    pipeline, loaded = registry.load("1")
    np.testing.assert_allclose(
        pipeline.predict_proba(trained.split.x_test),
        trained.pipeline.predict_proba(trained.split.x_test),
    )
    assert loaded == card


def test_promotion_moves_the_alias_and_is_recorded(workspace, trained):
    registry = Registry(workspace)
    for _ in range(2):
        registry.log_training(trained, {}, {})
    decision = judge(
        trained.split.y_test, trained.test_probability, None, small_train_params().gate
    )
    registry.record_decision("1", decision)
    assert registry.promote("1", decision.reason) is None
    assert registry.promote("2", "roll forward", actor="cli") == "1"
    assert registry.promote("1", "rollback", actor="cli") == "2"
    statuses = {v.version: (v.status, v.aliases) for v in registry.versions()}
    assert statuses == {"1": ("champion", ["champion"]), "2": ("promoted earlier", [])}
    events = [
        json.loads(line) for line in workspace.workspace.registry_log.read_text().splitlines()
    ]
    assert [(e["champion"], e["previous"], e["by"]) for e in events] == [
        ("1", None, "gate"),
        ("2", "1", "cli"),
        ("1", "2", "cli"),
    ]


def test_unknown_versions_and_missing_champion_are_clear_errors(workspace):
    registry = Registry(workspace)
    assert registry.versions() == []
    with pytest.raises(RegistryError, match="no champion"):
        registry.load()
    with pytest.raises(RegistryError, match="no version 7"):
        registry.promote("7", "typo")
