"""The targeting table: what each threshold would have given on test data."""

from __future__ import annotations

import numpy as np
import pytest

from juice.model.evaluation import targeting_table


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    y = rng.random(2000) < 0.2
    probability = 1 / (1 + np.exp(-(y * 1.5 + rng.normal(-1.5, 1, 2000))))
    return y, probability


def test_rows_are_ascending_many_and_include_the_served_threshold(scores):
    y, probability = scores
    served = float(np.quantile(probability, 0.9)) + 1e-6
    table = targeting_table(y, probability, served)
    thresholds = [row.threshold for row in table]
    assert len(table) >= 50
    assert thresholds == sorted(set(thresholds))
    assert served in thresholds
    reaches = [row.reach for row in table]
    assert reaches == sorted(reaches, reverse=True)
    assert reaches[0] == 1.0


def test_each_row_is_what_targeting_at_its_threshold_gives(scores):
    y, probability = scores
    for row in targeting_table(y, probability, 0.5)[::17]:
        targeted = probability >= row.threshold
        assert row.reach == pytest.approx(targeted.mean())
        assert row.precision == pytest.approx(y[targeted].mean())
        assert row.recall == pytest.approx((y & targeted).sum() / y.sum())
