"""Training on simulated data: the split, the search and the model's quality."""

from __future__ import annotations

import numpy as np
import pytest
from factories import small_train_params
from sklearn.metrics import roc_auc_score

from juice.errors import JuiceError
from juice.features import to_matrix
from juice.params import SplitParams
from juice.simulator import simulate
from juice.training import param_grid, split_dataset, train_model


def test_split_is_stratified_seeded_and_disjoint():
    visits = simulate(2000, seed=3)
    split = split_dataset(visits, SplitParams(seed=1))
    sizes = [len(split.y_train), len(split.y_validation), len(split.y_test)]
    assert sizes == [1200, 400, 400]
    rates = [split.y_train.mean(), split.y_validation.mean(), split.y_test.mean()]
    assert max(rates) - min(rates) < 0.01
    again = split_dataset(visits, SplitParams(seed=1))
    np.testing.assert_array_equal(split.x_test, again.x_test)
    rows = {tuple(r) for r in split.x_train} & {tuple(r) for r in split.x_test}
    assert len(rows) < 5  # only chance duplicates of identical visits


def test_grid_covers_whole_pipelines():
    grid = param_grid([{"watch": ["log"], "scale": ["standard", "none"], "penalty": ["l1", "l2"],
                        "C": [1], "class_weight": ["none", "balanced"]}])  # fmt: skip
    assert len(grid) == 2
    assert {g["model__solver"][0] for g in grid} == {"liblinear", "lbfgs"}
    assert grid[0]["model__class_weight"] == [None, "balanced"]
    with pytest.raises(JuiceError, match="unknown grid keys"):
        param_grid([{"depth": [3]}])


def test_model_learns_close_to_the_truth():
    trained = train_model(simulate(6000, seed=4), small_train_params())
    fresh = simulate(20_000, seed=99)
    ours = roc_auc_score(fresh["purchased"], trained.pipeline.predict_proba(to_matrix(fresh))[:, 1])
    bayes = roc_auc_score(fresh["purchased"], fresh["true_probability"])
    assert bayes - ours < 0.02
    assert 0 < trained.threshold.threshold < 1
    assert trained.evaluation.rows == 1200 and trained.evaluation.precision > 0.4
    assert len(trained.effects) == 23 and trained.effects[0].uplift > 0
    assert trained.cv_results.height == 2


def test_too_little_data_is_refused():
    with pytest.raises(JuiceError, match="too little data"):
        train_model(simulate(100, seed=1), small_train_params())
