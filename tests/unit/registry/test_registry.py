"""The MLflow registry: versions, cards, champion alias, promotions (real SQLite store)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from commands import assert_one_line_error, juice
from factories import small_train_params

from juice.data.simulator import simulate
from juice.model.card import CARD_FILE
from juice.model.training import train_model
from juice.registry import promotion, runs
from juice.registry.gate import judge
from juice.registry.listing import list_versions
from juice.registry.store import Registry, RegistryError, parse_version


@pytest.fixture(scope="module")
def trained():
    return train_model(simulate(3000, seed=8), small_train_params())


def test_a_training_becomes_a_version_with_its_card(workspace, trained):
    registry = Registry(workspace, create=True)
    card = runs.log_training(
        registry, trained, {"dataset_version": "abc", "git_commit": None}, {"beta": 0.3}
    )
    assert card.version == "1"
    assert card.dataset_version == "abc"
    assert card.threshold == trained.threshold.threshold
    assert registry.champion_version() is None  # registering is not promoting
    [listed] = list_versions(registry)
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
    registry = Registry(workspace, create=True)
    for _ in range(2):
        runs.log_training(registry, trained, {}, {})
    decision = judge(
        trained.split.y_test, trained.test_probability, None, small_train_params().gate
    )
    promotion.record_decision(registry, "1", decision)
    assert promotion.promote(registry, "1", decision.reason).previous is None
    assert promotion.promote(registry, "2", "roll forward", actor="cli").previous == "1"
    assert promotion.promote(registry, "1", "rollback", actor="cli").previous == "2"
    assert (
        promotion.roll_back(registry, "2", "1", "v2 failed", actor="drift-check") is None
    )  # v1 stands
    statuses = {v.version: (v.status, v.aliases) for v in list_versions(registry)}
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
    registry = Registry(workspace, create=True)
    assert list_versions(registry) == []
    with pytest.raises(RegistryError, match="no champion"):
        registry.load()
    with pytest.raises(RegistryError, match="no version 7"):
        promotion.promote(registry, "7", "typo")


def test_a_missing_registry_is_reported_never_recreated_empty(workspace, trained):
    database = workspace.workspace.mlflow_db
    with pytest.raises(RegistryError, match=f"registry is missing: expected {database}"):
        Registry(workspace)
    assert not database.exists()
    runs.log_training(Registry(workspace, create=True), trained, {}, {})  # the first training
    database.unlink()  # then the store is lost
    done = juice("models")
    assert_one_line_error(done, "registry is missing", str(database))
    assert not database.exists()


def test_versions_are_normalised_and_promoting_the_champion_again_changes_nothing(
    workspace, trained
):
    registry = Registry(workspace, create=True)
    for _ in range(2):
        runs.log_training(registry, trained, {}, {})
    assert [parse_version(text) for text in ("3", " 3", "03", "v3", "V03 ")] == ["3"] * 5
    for text in ("", "x3", "3.0", "0", "-1", "3 4"):
        with pytest.raises(RegistryError, match="is not a model version"):
            parse_version(text)

    promotion.promote(registry, " 01", "first")
    promotion.promote(registry, "02", "second", actor="cli")
    assert promotion.promote(registry, "2", "again", actor="cli") is None
    events = [json.loads(line) for line in registry.settings.workspace.registry_log.open()]
    assert [(e["champion"], e["previous"]) for e in events] == [("1", None), ("2", "1")]

    done = juice("models", "promote", "v2", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["promoted"] is False
    assert len(registry.settings.workspace.registry_log.read_text().splitlines()) == 2


def test_an_incomplete_version_cannot_be_promoted(workspace, trained):
    registry = Registry(workspace, create=True)
    cards = [runs.log_training(registry, trained, {}, {}) for _ in range(3)]
    promotion.promote(registry, "1", "first")
    artifacts = workspace.workspace.mlflow_artifacts
    model_id = registry.client.get_model_version("poljuice", "2").source.removeprefix("models:/")
    (artifacts / "models" / model_id / "artifacts" / "model.pkl").unlink()
    (artifacts / cards[2].run_id / "artifacts" / CARD_FILE).unlink()

    with pytest.raises(RegistryError, match=r"v2 is incomplete.*model cannot be loaded"):
        promotion.promote(registry, "2", "roll forward")
    assert_one_line_error(juice("models", "promote", "3"), "v3 is incomplete", CARD_FILE)
    assert registry.champion_version() == "1"
    assert len(workspace.workspace.registry_log.read_text().splitlines()) == 1


def test_check_runs_past_the_retention_are_deleted_for_good(workspace, tmp_path):
    import time

    from juice.registry.store import CHECKS_EXPERIMENT

    registry = Registry(workspace, create=True)
    report = tmp_path / "report.json"
    report.write_text("{}")
    recent = runs.log_check(registry, "drift-check", {}, {"drift": 0.0}, report)
    experiment = registry.client.get_experiment_by_name(CHECKS_EXPERIMENT).experiment_id
    month_ago = int((time.time() - 31 * 86_400) * 1000)
    old = registry.client.create_run(experiment, start_time=month_ago).info.run_id
    registry.client.set_terminated(old)
    assert runs.prune_checks(registry, 30) == 1
    assert registry.client.get_run(recent).info.lifecycle_stage == "active"
    with pytest.raises(Exception, match="not found"):
        registry.client.get_run(old)  # not merely marked deleted: gone from the store
    assert runs.prune_checks(registry, 30) == 0


def test_the_codes_commit_is_none_without_git(monkeypatch, tmp_path):
    """The project's image has no git: a training there records no commit, and goes on."""
    from juice.registry.runs import git_commit

    assert git_commit()  # this checkout, with git
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_commit() is None
