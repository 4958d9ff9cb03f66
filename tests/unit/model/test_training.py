"""Training on simulated data: the split, the search and the model's quality."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from factories import small_train_params
from sklearn.metrics import roc_auc_score

from juice.data.simulator import simulate
from juice.errors import JuiceError
from juice.model.matrix import to_matrix
from juice.model.training import param_grid, split_dataset, train_model
from juice.params import GridEntry, SplitParams


def with_lineage(visits: pl.DataFrame, source: str) -> pl.DataFrame:
    return visits.with_columns(
        pl.lit(source).alias("source"),
        pl.int_range(1, len(visits) + 1, dtype=pl.Int64).alias("line"),
    )


def test_split_is_seeded_balanced_and_disjoint():
    visits = with_lineage(simulate(4000, seed=3), "a.csv")
    split = split_dataset(visits, SplitParams(seed=1))
    sizes = np.array([len(split.y_train), len(split.y_validation), len(split.y_test)])
    assert sizes.sum() == 4000
    assert np.all(np.abs(sizes / 4000 - [0.6, 0.2, 0.2]) < 0.03)
    rates = [split.y_train.mean(), split.y_validation.mean(), split.y_test.mean()]
    assert max(rates) - min(rates) < 0.03
    again = split_dataset(visits, SplitParams(seed=1))
    np.testing.assert_array_equal(split.x_test, again.x_test)
    other = split_dataset(visits, SplitParams(seed=2))
    assert not np.array_equal(split.x_test, other.x_test)


def test_a_row_stays_in_its_part_when_data_is_added():
    first = with_lineage(simulate(2000, seed=3), "a.csv")
    grown = pl.concat([first, with_lineage(simulate(3000, seed=4), "b.csv")])
    before, after = split_dataset(first, SplitParams()), split_dataset(grown, SplitParams())
    # The champion's test rows are the challenger's test rows from the same export:
    # neither model ever trained on them.
    np.testing.assert_array_equal(after.x_test[: len(before.x_test)], before.x_test)
    np.testing.assert_array_equal(after.x_train[: len(before.x_train)], before.x_train)


def test_grid_covers_whole_pipelines():
    entry = GridEntry(watch=["log"], scale=["standard", "none"], penalty=["l1", "l2"], C=[1],
                      class_weight=["none", "balanced"])  # fmt: skip
    grid = param_grid([entry])
    assert len(grid) == 2
    assert {g["model__solver"][0] for g in grid} == {"liblinear", "lbfgs"}
    assert grid[0]["model__class_weight"] == [None, "balanced"]
    assert grid[0]["features__watch"] == ["log"]
    assert len(grid[0]["scale"]) == 2


def test_model_learns_close_to_the_truth():
    trained = train_model(simulate(6000, seed=4), small_train_params())
    fresh = simulate(20_000, seed=99)
    ours = roc_auc_score(fresh["purchased"], trained.pipeline.predict_proba(to_matrix(fresh))[:, 1])
    bayes = roc_auc_score(fresh["purchased"], fresh["true_probability"])
    assert bayes - ours < 0.02
    assert 0 < trained.threshold.threshold < 1
    assert 1000 < trained.evaluation.rows < 1400
    assert trained.evaluation.precision > 0.4
    assert len(trained.effects) == 23
    assert trained.effects[0].uplift > 0
    assert trained.cv_results.height == 2


def test_too_little_data_is_refused():
    with pytest.raises(JuiceError, match="too little data"):
        train_model(simulate(100, seed=1), small_train_params())
