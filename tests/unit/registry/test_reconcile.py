"""The champion's record after a crash mid-promotion and after a hand moved the alias in
MLflow (a real SQLite store; the crash itself, SIGKILL of a real process, is
tests/e2e/test_registry_faults.py's)."""

from __future__ import annotations

import json

import pytest
from factories import small_train_params

from juice.data.simulator import simulate
from juice.model.training import train_model
from juice.registry import promotion, runs, tags
from juice.registry.history import Promotion
from juice.registry.reconcile import begin, champion_promotion, reconcile
from juice.registry.store import CHAMPION, Registry


@pytest.fixture(scope="module")
def trained():
    return train_model(simulate(2000, seed=8), small_train_params())


@pytest.fixture
def registry(workspace, trained) -> Registry:
    """Two versions, v1 the champion (promoted by juice)."""
    registry = Registry(workspace, create=True)
    for _ in range(2):
        runs.log_training(registry, trained, {}, {})
    promotion.promote(registry, "1", "first", actor="cli")
    return registry


def logged(registry: Registry) -> list[dict]:
    return [json.loads(line) for line in registry.settings.workspace.registry_log.open()]


def intent_for(version: str, previous: str) -> Promotion:
    return Promotion(at="2026-12-05T10:00:00+00:00", model="poljuice", champion=version,
                     previous=previous, by="drift-check", reason="beats v1")  # fmt: skip


def test_a_promotion_killed_after_the_alias_moved_is_finished_once(registry):
    intent = intent_for("2", "1")
    begin(registry, intent)
    registry.client.set_registered_model_alias(registry.name, CHAMPION, "2")  # then killed
    assert champion_promotion(registry) == intent  # the service already tells it right
    assert reconcile(registry) == intent
    assert reconcile(registry) is None  # done: a second look changes nothing
    assert [(p["champion"], p["by"], p["reason"]) for p in logged(registry)] == [
        ("1", "cli", "first"), ("2", "drift-check", "beats v1")]  # fmt: skip
    version = registry.model_version("2").tags
    assert (version[tags.PROMOTED_AT], version[tags.PROMOTION_REASON]) == (intent.at, "beats v1")
    model_tags = registry.client.get_registered_model(registry.name).tags
    assert tags.PROMOTION_INTENT not in model_tags


def test_a_promotion_killed_before_the_alias_moved_never_happened(registry):
    begin(registry, intent_for("2", "1"))  # then killed
    assert reconcile(registry) is None
    assert registry.champion_version() == "1"
    assert [p["champion"] for p in logged(registry)] == ["1"]
    assert tags.PROMOTED_AT not in registry.model_version("2").tags
    assert tags.PROMOTION_INTENT not in registry.client.get_registered_model(registry.name).tags


def test_a_finished_line_is_not_logged_again(registry):
    intent = intent_for("2", "1")
    begin(registry, intent)
    registry.client.set_registered_model_alias(registry.name, CHAMPION, "2")
    reconcile(registry)
    begin(registry, intent)  # as if killed after the log line, before the intent went
    reconcile(registry)
    assert [p["champion"] for p in logged(registry)] == ["1", "2"]


def test_an_alias_moved_outside_juice_is_served_shown_and_logged_as_such(registry):
    registry.client.set_registered_model_alias(registry.name, CHAMPION, "2")  # the MLflow UI
    shown = champion_promotion(registry)
    assert shown is not None
    assert (shown.champion, shown.by) == ("2", tags.OUTSIDE)
    assert "no gate judged it" in shown.reason
    recorded = reconcile(registry)
    assert recorded is not None
    assert (recorded.champion, recorded.previous, recorded.by) == ("2", "1", tags.OUTSIDE)
    assert logged(registry)[-1]["by"] == tags.OUTSIDE
    assert champion_promotion(registry) == recorded  # now with the time it was found
    assert reconcile(registry) is None
    # A promotion by juice later is an ordinary one again
    assert promotion.promote(registry, "1", "back", actor="cli").previous == "2"
    assert champion_promotion(registry).by == "cli"


def test_a_store_from_before_the_record_is_adopted_without_a_log_line(registry):
    registry.client.delete_registered_model_tag(registry.name, tags.CHAMPION_RECORD)
    earlier = champion_promotion(registry)
    assert earlier is not None
    assert (earlier.champion, earlier.by, earlier.reason) == ("1", "cli", "first")
    assert reconcile(registry) is None
    assert len(logged(registry)) == 1
