"""Explanations are exact: baseline + contributions = the model's log-odds, for every
pipeline shape the grid can pick; an unwatched ad contributes exactly nothing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logit

from juice.data.simulator import simulate
from juice.errors import JuiceError
from juice.model.explanation import Explainer, Reference, reference_visitor
from juice.model.matrix import AGE_COLUMN, FIRST_FLAVOUR_COLUMN, to_matrix
from juice.model.training import pipeline
from juice.params import Age, GridEntry, Penalty, Scale, WatchPart
from juice.schema import FEATURES

VISITS = simulate(600, seed=2)
MATRIX = to_matrix(VISITS)
LABELS = VISITS["purchased"].to_numpy()
WATCH = ["+".join(parts) for n in (1, 2, 3) for parts in itertools.combinations(WatchPart, n)]
SHAPES = list(itertools.product(WATCH, Age, Scale, Penalty))


def fitted(watch: str, age: Age, scale: Scale, penalty: Penalty):
    from juice.model.training import param_grid

    grid = param_grid([GridEntry(watch=[watch], age=[age], scale=[scale], penalty=[penalty])])[0]
    model = pipeline().set_params(**{key: values[0] for key, values in grid.items()})
    return model.fit(MATRIX, LABELS)


@pytest.mark.parametrize(("watch", "age", "scale", "penalty"), SHAPES)
def test_contributions_add_up_to_the_logit(watch, age, scale, penalty):
    model = fitted(watch, age, scale, penalty)
    explainer = Explainer(model, Reference(sex="M", age=34))
    visits = to_matrix(simulate(50, seed=len(watch)))
    contributions = explainer.contributions(visits)
    assert contributions.shape == (50, len(FEATURES))
    expected = logit(model.predict_proba(visits)[:, 1])
    np.testing.assert_allclose(explainer.baseline + contributions.sum(axis=1), expected, atol=1e-9)
    unwatched = visits[:, FIRST_FLAVOUR_COLUMN:] == 0
    assert (contributions[:, 2:][unwatched] == 0).all()


def test_the_reference_visitor_has_no_contribution_and_the_baseline_is_its_logit():
    model = fitted("log+watched", Age.DECADES, Scale.STANDARD, Penalty.L2)
    reference = Reference(sex="F", age=52)
    explainer = Explainer(model, reference)
    assert (explainer.contributions(reference.matrix()) == 0).all()
    assert explainer.baseline == pytest.approx(logit(model.predict_proba(reference.matrix())[0, 1]))


def test_the_reference_is_the_training_datas_typical_visitor():
    reference = reference_visitor(MATRIX)
    assert reference.age == round(float(np.median(MATRIX[:, AGE_COLUMN])))
    assert reference.sex == ("F" if (VISITS["sex"] == "F").mean() > 0.5 else "M")


def test_a_non_linear_model_is_not_explained():
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    model = Pipeline([("model", DummyClassifier())]).fit(MATRIX, LABELS)
    with pytest.raises(JuiceError, match="linear"):
        Explainer(model, Reference(sex="M", age=30))
