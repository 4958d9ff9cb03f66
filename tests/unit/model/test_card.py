"""The model card: written whole by training, and older cards still read."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from factories import small_train_params

from juice.data.simulator import simulate
from juice.model.card import ModelCard, card_for
from juice.model.training import train_model


def test_a_card_round_trips_with_its_targeting_and_reference():
    trained = train_model(simulate(1500, seed=5), small_train_params())
    card = card_for(trained, name="m", version="3", run_id="r", dataset_version=None)
    assert ModelCard.from_json(card.to_json()) == card
    assert card.targeting
    assert card.targeting[0]["reach"] == 1.0
    assert card.reference == trained.reference.to_dict()


def test_a_card_written_before_targeting_existed_still_reads():
    trained = train_model(simulate(1500, seed=5), small_train_params())
    card = card_for(trained, name="m", version="1", run_id="r", dataset_version="d")
    old = {
        k: v for k, v in json.loads(card.to_json()).items() if k not in ("targeting", "reference")
    }
    read = ModelCard.from_json(json.dumps(old))
    assert read.targeting is None
    assert read.reference is None
    assert read.version == "1"


def test_the_expected_buy_share_is_the_test_visits_share_at_the_threshold():
    trained = train_model(simulate(1500, seed=5), small_train_params())
    card = card_for(trained, name="m", version="2", run_id="r", dataset_version=None)
    share = float(np.mean(trained.test_probability >= card.threshold))
    assert 0 < share < 1
    assert card.expected_buy_share == share
    above_all = replace(card, threshold=1.0)  # targets no test visitor: no row of its own
    assert above_all.expected_buy_share == 0.0
    assert replace(card, targeting=None).expected_buy_share is None
