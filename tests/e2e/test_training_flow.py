"""The training flow end to end: real Prefect, real MLflow store, the champion's life."""

from __future__ import annotations

import json

import pytest
import yaml
from factories import write_params

from juice.data.snapshots import find_snapshot
from juice.registry.listing import list_versions
from juice.registry.store import Registry

pytestmark = pytest.mark.e2e


def test_first_model_is_promoted_and_a_challenger_that_fails_the_gate_is_not(built):
    from flows.training import train

    first = train()
    assert first.model_version == "1"
    assert first.promoted
    assert first.champion == "1"
    assert "purchase-rate prior" in first.reason
    assert json.loads(built.workspace.train_outcome.read_text())["model_version"] == "1"
    card = Registry(built).card("1")  # the card names the exact data, which is kept
    assert find_snapshot(built, card.data_hash or "").sources[0].startswith("e-")

    # A crude challenger against a strict gate (no margin): it must prove itself and cannot.
    write_params(built, watch=["seconds"], scale=["none"], C=[1e-6])
    params = yaml.safe_load(built.workspace.params_file.read_text())
    params["train"]["gate"]["margin"] = 0.0
    built.workspace.params_file.write_text(yaml.safe_dump(params))
    second = train()
    assert second.model_version == "2"
    assert not second.promoted
    assert second.champion == "1"
    assert "does not beat champion v1" in second.reason
    versions = {v.version: v for v in list_versions(Registry(built))}
    assert versions["1"].aliases == ["champion"]
    assert versions["2"].status == "rejected"
    assert "does not beat" in versions["2"].reason


def test_a_crash_mid_training_leaves_the_champion_untouched(built, monkeypatch):
    from flows.training import train

    train()
    registry = Registry(built)
    _, before = registry.load()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full while plotting")

    monkeypatch.setattr("juice.model.evaluation.write_plots", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        train()
    assert registry.champion_version() == "1"
    _, after = registry.load()
    assert after == before
