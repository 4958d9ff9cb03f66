"""The promotion gate refuses a worse model and accepts a better or equal one."""

from __future__ import annotations

import numpy as np
import pytest

from juice.params import GateParams
from juice.registry.gate import PRIOR, judge

PARAMS = GateParams(bootstrap=100)


@pytest.fixture
def outcomes():
    rng = np.random.default_rng(0)
    y = rng.random(3000) < 0.25
    good = y * 1.0 + rng.normal(0, 0.7, 3000)
    weak = y * 0.3 + rng.normal(0, 0.7, 3000)
    return y, good, weak


def test_a_clearly_worse_challenger_is_refused(outcomes):
    y, good, weak = outcomes
    decision = judge(y, weak, good, PARAMS, "champion v1")
    assert not decision.promote
    assert decision.challenger < decision.incumbent
    assert decision.lower_bound < -PARAMS.margin
    assert "does not beat champion v1" in decision.reason


def test_a_better_challenger_is_accepted(outcomes):
    y, good, weak = outcomes
    decision = judge(y, good, weak, PARAMS, "champion v1")
    assert decision.promote
    assert decision.lower_bound > 0


def test_an_equal_challenger_is_accepted_within_the_margin(outcomes):
    y, good, _ = outcomes
    rng = np.random.default_rng(5)
    decision = judge(y, good + rng.normal(0, 0.01, len(y)), good, PARAMS, "champion v1")
    assert decision.promote
    assert abs(decision.challenger - decision.incumbent) < 0.01


def test_first_model_must_beat_the_prior(outcomes):
    y, good, _ = outcomes
    noise = np.random.default_rng(9).random(len(y))
    assert judge(y, good, None, PARAMS).promote
    refused = judge(y, noise, None, PARAMS)
    assert not refused.promote
    assert PRIOR in refused.reason


def test_the_gate_metric_is_configurable(outcomes):
    y, good, weak = outcomes
    decision = judge(y, weak, good, GateParams(metric="roc_auc", bootstrap=50), "champion v1")
    assert decision.metric == "roc_auc"
    assert not decision.promote
