"""Feature encodings of watch time and age."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from juice.data.simulator import simulate
from juice.model.features import VisitFeatures
from juice.model.matrix import MODEL_COLUMNS, to_matrix


def matrix(rows: int = 20) -> np.ndarray:
    return to_matrix(simulate(rows, seed=0))


def test_matrix_follows_the_model_columns():
    visits = simulate(5, seed=0)
    x = to_matrix(visits)
    assert x.shape == (5, len(MODEL_COLUMNS))
    assert list(x[:, 0]) == [float(s == "F") for s in visits["sex"]]
    assert list(x[:, 1]) == visits["age"].cast(float).to_list()


@pytest.mark.parametrize(
    ("watch", "age", "width"),
    [("seconds", "linear", 25), ("log+watched", "linear", 48), ("watched", "decades", 31)],
)
def test_encodings_have_named_columns(watch, age, width):
    features = VisitFeatures(watch=watch, age=age).fit(matrix())
    out = features.transform(matrix())
    assert out.shape == (20, width) == (20, len(features.get_feature_names_out()))


def test_log_and_indicator_encodings_are_what_they_say():
    x = matrix()
    out = VisitFeatures(watch="log+watched").fit(x).transform(x)
    seconds = x[:, 2:]
    np.testing.assert_allclose(out[:, 2:25], np.log1p(seconds / 10))
    np.testing.assert_array_equal(out[:, 25:], seconds > 0)


@pytest.mark.parametrize("params", [{"watch": "cubic"}, {"age": "quadratic"}])
def test_unknown_encodings_are_refused(params):
    with pytest.raises(ValueError, match="unknown"):
        VisitFeatures(**params).fit(matrix())


def test_wrong_width_is_refused():
    features = VisitFeatures().fit(matrix())
    with pytest.raises(ValueError, match="columns"):
        features.transform(matrix()[:, :5])


def test_fitted_features_survive_pickling():
    features = VisitFeatures(watch="seconds+watched", age="decades").fit(matrix())
    again = pickle.loads(pickle.dumps(features))
    np.testing.assert_array_equal(again.transform(matrix()), features.transform(matrix()))
