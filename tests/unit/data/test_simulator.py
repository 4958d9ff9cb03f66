"""The simulated analytics system writes believable exports in the contract's format."""

from __future__ import annotations

import csv

import numpy as np
import polars as pl
import pytest

from juice.data.simulator import SCENARIOS, TRUE_PROBABILITY, simulate, world_for, write_export
from juice.schema import AGE_MAX, AGE_MIN, FLAVOURS, RAW_COLUMNS


def test_export_has_the_raw_contract_format(tmp_path):
    path = write_export(simulate(500, seed=1), tmp_path / "e.csv")
    rows = list(csv.reader(path.open()))
    assert len(rows) == 500
    assert {len(r) for r in rows} == {len(RAW_COLUMNS)}
    assert {r[0] for r in rows} == {"M", "F"}
    assert {r[-1] for r in rows} == {"Y", "N"}
    assert all(AGE_MIN <= int(r[1]) <= AGE_MAX for r in rows)
    assert all(int(v) >= 0 for r in rows for v in r[2:-1])


def test_header_row_names_the_fields(tmp_path):
    path = write_export(simulate(3, seed=1), tmp_path / "e.csv", header=True)
    assert path.read_text().splitlines()[0] == ",".join(RAW_COLUMNS)


def test_same_seed_same_export_other_seed_other_export():
    assert simulate(300, 7).equals(simulate(300, 7))
    assert not simulate(300, 7).equals(simulate(300, 8))


def test_stable_data_is_believable():
    visits = simulate(20_000, seed=3)
    watched = visits.select((pl.col(f) > 0).mean() for f in FLAVOURS).row(0)
    assert max(watched) < 0.5, "most ads go unwatched"
    assert 0.10 <= visits["purchased"].mean() <= 0.40
    assert visits["age"].median() < (AGE_MIN + AGE_MAX) / 2, "ages skew young"
    seconds = visits.select(pl.concat_list(FLAVOURS).explode().alias("s")).filter(pl.col("s") > 0)
    assert seconds["s"].n_unique() > 100, "watch time spreads over the ad's length"


def test_ads_move_purchases_unequally_with_diminishing_returns():
    world = world_for("stable")
    effects = np.abs(world.seconds_effect)
    assert effects.max() >= 3 * np.median(effects[effects > 0])
    strongest = int(np.argmax(world.seconds_effect))
    seconds = np.zeros((3, len(FLAVOURS)))
    seconds[:, strongest] = [0, 60, 120]
    logit = world.logit(np.zeros(3), np.full(3, 40), seconds)
    assert logit[1] - logit[0] > logit[2] - logit[1] > 0


@pytest.mark.parametrize("scenario", sorted(set(SCENARIOS) - {"stable"}))
def test_every_drift_scenario_changes_the_data(scenario):
    stable, drifted = simulate(20_000, 5), simulate(20_000, 5, scenario)
    assert 0.05 <= drifted["purchased"].mean() <= 0.5
    if scenario == "older-visitors":
        assert drifted["age"].mean() > stable["age"].mean() + 10
    elif scenario == "campaign":
        assert (drifted["mango"] > 0).mean() > 2 * (stable["mango"] > 0).mean()
    elif scenario == "concept":
        # Same visitors, other reasons to buy.
        assert drifted.drop("purchased", TRUE_PROBABILITY).equals(
            stable.drop("purchased", TRUE_PROBABILITY)
        )
        corr = np.corrcoef(stable[TRUE_PROBABILITY], drifted[TRUE_PROBABILITY])[0, 1]
        assert corr < 0.8


def test_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        simulate(10, 0, "winter")
