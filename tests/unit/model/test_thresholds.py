"""The decision threshold maximises F-beta: checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import fbeta_score

from juice.model.thresholds import select_threshold


@pytest.mark.parametrize("beta", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("seed", range(5))
def test_threshold_maximises_fbeta_by_brute_force(beta, seed):
    rng = np.random.default_rng(seed)
    y = rng.random(60) < 0.3
    y[:2] = [True, False]
    scores = np.round(np.clip(y * 0.2 + rng.random(60) * 0.8, 0, 1), 2)  # ties on purpose
    best = max(fbeta_score(y, scores >= t, beta=beta, zero_division=0) for t in np.unique(scores))
    choice = select_threshold(y, scores, beta)
    assert choice.fbeta == pytest.approx(best)
    assert fbeta_score(y, scores >= choice.threshold, beta=beta) == pytest.approx(best)


def test_lower_beta_never_chooses_a_lower_precision():
    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.25
    scores = y * 0.3 + rng.random(500)
    assert select_threshold(y, scores, 0.3).precision >= select_threshold(y, scores, 3.0).precision


def test_ties_prefer_the_higher_threshold():
    y = np.array([True, False, True, False])
    scores = np.array([0.9, 0.1, 0.8, 0.2])  # any cut in (0.2, 0.8] is perfect
    assert select_threshold(y, scores, 0.3).threshold == pytest.approx(0.8)


def test_one_class_only_is_refused():
    with pytest.raises(ValueError, match="both"):
        select_threshold(np.zeros(5, dtype=bool), np.linspace(0, 1, 5), 0.3)
