"""The incident policy: one incident per sustained change, its trainings bounded, closed
once the checks are stable again (the whole loop over a month: benchmarks/soak.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from juice.monitoring.incidents import (
    Incident,
    LoopState,
    Signal,
    after_action,
    describe_step,
    next_step,
    read_state,
    write_state,
)
from juice.params import DriftParams

PARAMS = DriftParams(retrain_visits=2000, confirm_visits=4000, settle_visits=20000,
                     close_after=3)  # fmt: skip
NOW = "2026-12-05T10:00:00+00:00"


def signal(drift=False, concept=False, new=("e9.csv",), visits=1000, sufficient=True) -> Signal:
    return Signal(drift=drift, concept_drift=concept, sufficient=sufficient,
                  new_exports=list(new), new_visits=visits, reason="drift: mango")  # fmt: skip


def test_stable_checks_open_nothing_and_a_drift_opens_one_incident_from_its_new_exports():
    assert next_step(None, signal(), 0, NOW, PARAMS).event == "none"
    step = next_step(None, signal(drift=True, new=("e9.csv", "e10.csv")), 0, NOW, PARAMS)
    assert (step.event, step.action) == ("opened", "nothing")
    assert step.incident == Incident(1, "open", NOW, "e9.csv", "drift: mango")
    again = next_step(step.incident, signal(drift=True), 2000, NOW, PARAMS)
    assert (again.event, again.incident.number) == ("ongoing", 1)  # no second incident


def test_a_change_the_champion_handles_is_confirmed_on_it_without_training_then_closes():
    opened = next_step(None, signal(drift=True), 0, NOW, PARAMS).incident
    assert next_step(opened, signal(drift=True), 3999, NOW, PARAMS).action == "nothing"
    settle = next_step(opened, signal(drift=True), 4000, NOW, PARAMS)
    assert settle.action == "settle"
    settled = after_action(settle.incident, "settle", retrained=False, promoted=False, words="x")
    assert settled.settled
    assert settled.retrains == 0
    assert next_step(settled, signal(drift=True), 9000, NOW, PARAMS).action == "refresh"
    state = settled
    for check in range(1, 3):
        step = next_step(state, signal(), 9000, NOW, PARAMS)
        assert (step.event, step.incident.stable_checks) == ("ongoing", check)
        state = step.incident
    drift_again = next_step(state, signal(drift=True), 9000, NOW, PARAMS).incident
    assert drift_again.stable_checks == 0  # a pause in a growing change does not close it
    for _ in range(3):
        step = next_step(drift_again, signal(), 9000, NOW, PARAMS)
        drift_again = step.incident
    assert (step.event, drift_again.state, drift_again.closed_at) == ("closed", "closed", NOW)
    reopened = next_step(drift_again, signal(drift=True), 0, NOW, PARAMS)
    assert (reopened.event, reopened.incident.number) == ("opened", 2)


def test_a_champion_that_does_worse_is_fixed_once_then_trained_against_once_more():
    opened = next_step(None, signal(drift=True, concept=True), 0, NOW, PARAMS).incident
    assert opened.concept
    assert (
        next_step(opened, signal(drift=True, concept=True), 1999, NOW, PARAMS).action == "nothing"
    )
    fix = next_step(opened, signal(drift=True, concept=True), 2000, NOW, PARAMS)
    assert fix.action == "fix"
    fixed = after_action(fix.incident, "fix", retrained=True, promoted=True, words="v2 promoted")
    assert (fixed.retrains, fixed.promotions, fixed.actions) == (1, 1, ["v2 promoted"])
    waiting = next_step(fixed, signal(drift=True, concept=True), 19999, NOW, PARAMS)
    assert waiting.action == "nothing"  # no second fix
    assert "waiting for 20,000 visits" in describe_step(waiting, True, PARAMS)
    assert next_step(fixed, signal(), 20000, NOW, PARAMS).action == "settle"
    settled = after_action(fixed, "settle", retrained=True, promoted=False, words="kept out")
    still = next_step(settled, signal(drift=True, concept=True), 30000, NOW, PARAMS)
    assert still.action == "nothing"  # no training left to it: it stays open and says so
    assert "no training left" in describe_step(still, True, PARAMS)


def test_a_check_without_a_verdict_changes_nothing():
    opened = next_step(None, signal(drift=True), 0, NOW, PARAMS).incident
    step = next_step(opened, signal(sufficient=False), 5000, NOW, PARAMS)
    assert (step.incident, step.action) == (opened, "nothing")
    assert next_step(None, signal(drift=True, new=()), 0, NOW, PARAMS).event == "none"


@pytest.mark.parametrize(
    "incident",
    [None, Incident(3, "closed", NOW, "e1.csv", "why", closed_at=NOW, actions=["a", "b"])],
)
def test_the_state_is_kept_whole_and_read_back(tmp_path, incident):
    path = tmp_path / "drift" / "loop.json"
    assert read_state(path) == LoopState()
    write_state(path, LoopState(incident, "e7.csv"))
    assert read_state(path) == LoopState(incident, "e7.csv")
    assert not list(path.parent.glob(".*"))  # no partial file left
    assert replace(read_state(path), last_judged=None).incident == incident
