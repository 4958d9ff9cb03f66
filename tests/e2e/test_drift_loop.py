"""The closed loop against a live service: on drift, retrain, promote, and the running
service switches to the new champion; a switch that cannot be verified is rolled back."""

from __future__ import annotations

import httpx
import pytest
from factories import land

from juice.adapters.processes import bento_server
from juice.registry.store import Registry

pytestmark = pytest.mark.e2e


def test_a_better_challenger_is_promoted_and_served(trained, tmp_path, monkeypatch):
    from flows.drift import drift_check

    server, url = bento_server("service:PolJuice", trained.home, JUICE_RELOAD_SECONDS="0.5")
    with server:
        monkeypatch.setenv("JUICE_API_URL", url)
        land(trained, tmp_path, "concept", 2500, seed=6, scenario="concept")
        outcome = drift_check()
        assert outcome.check.report.concept_drift
        assert outcome.promoted
        assert outcome.model_version == "2"
        assert "serves v2" in (outcome.smoke_test or "")
        assert httpx.get(f"{url}/model").json()["version"] == "2"
        visit = {"visits": [{"sex": "F", "age": 30, "mango": 40}]}
        assert httpx.post(f"{url}/predict", json=visit).json()[0]["model_version"] == "2"


def test_a_switch_that_fails_its_smoke_test_is_rolled_back(trained, tmp_path, monkeypatch):
    from flows.drift import drift_check

    # A service that will not pick up a new champion within the smoke test's wait.
    server, url = bento_server("service:PolJuice", trained.home, JUICE_RELOAD_SECONDS="3600")
    with server:
        monkeypatch.setenv("JUICE_API_URL", url)
        monkeypatch.setenv("JUICE_SMOKE_SECONDS", "4")
        land(trained, tmp_path, "concept", 2500, seed=6, scenario="concept")
        outcome = drift_check()
    assert outcome.retrained
    assert not outcome.promoted
    assert outcome.model_version == "1"
    assert "rolled back to v1" in outcome.action
    assert "still serves v1" in (outcome.smoke_test or "")
    registry = Registry(trained)
    assert registry.champion_version() == "1"
    log = trained.workspace.registry_log.read_text().splitlines()
    assert '"champion": "2"' in log[-2]
    assert '"champion": "1"' in log[-1]
    assert "rollback: v2 failed its smoke test" in log[-1]
