"""The model's arithmetic: features, scaling and a logistic regression as plain numpy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from juice.model.encoding import Encoding
from juice.model.matrix import MODEL_COLUMNS


@dataclass(frozen=True)
class LinearForm:
    """logit(x) = intercept + ((features(x) - mean) / width) @ coef, for every pipeline
    shape the grid can pick (our features, a standard scaler or none, a logistic
    regression). It needs numpy alone: scoring without scikit-learn."""

    features: Encoding
    mean: np.ndarray | float
    width: np.ndarray | float
    coef: np.ndarray
    intercept: float

    @cached_property
    def weights(self) -> np.ndarray:
        """Each feature column's weight on the raw (unscaled) feature value."""
        return self.coef / self.width

    @cached_property
    def offset(self) -> float:
        """The logit of all-zero features once the scaling is folded into the weights."""
        return self.intercept - float(np.sum(self.mean * self.weights))

    def logit(self, matrix: np.ndarray) -> np.ndarray:
        """Log-odds of purchase for each row of the model matrix (the scaling folded into
        the weights, once: one product, not a scaled copy of the features)."""
        return self.features.transform(matrix) @ self.weights + self.offset

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Purchase probability for each row of the model matrix."""
        return _logistic(self.logit(matrix))

    __call__ = probabilities  # a Scorer itself

    def probabilities_of_counts(self, columns: Sequence[np.ndarray]) -> np.ndarray:
        """Purchase probability of visits given as the integer columns `MODEL_COLUMNS`
        (whole values from 0, as the parser types them): each column's share of the
        logit looked up by value, with no model matrix. Equal to `probabilities` to
        rounding."""
        top = max(int(column.max(initial=0)) for column in columns)
        if top >= len(columns[0]):  # a table longer than the visits costs more than them
            return self.probabilities(np.column_stack(columns))
        shares = self.shares(top)
        logit = np.full(len(columns[0]), self.offset)
        for column, share in zip(columns, shares, strict=True):
            logit += share[column]
        return _logistic(logit)

    def shares(self, top: int) -> np.ndarray:
        """What each model column adds to the logit at each value 0..top (row c, column
        v). Every feature reads one model column (`Encoding.fields_out`), so a visit's
        logit is the offset plus one share per column."""
        values = np.arange(top + 1, dtype=np.float64)
        every = np.repeat(values[:, None], len(MODEL_COLUMNS), axis=1)  # each column at v
        weighted = self.features.transform(every) * self.weights
        shares = np.zeros((len(MODEL_COLUMNS), top + 1))
        for name, feature in zip(self.features.fields_out(), weighted.T, strict=True):
            shares[MODEL_COLUMNS.index(name)] += feature
        return shares


def _logistic(logit: np.ndarray) -> np.ndarray:
    """exp(-log(1 + exp(-logit))), which neither overflows nor loses precision."""
    return np.exp(-np.logaddexp(0.0, -logit))


def linear_form(pipeline: Any) -> LinearForm | None:
    """The pipeline as a LinearForm (a LinearForm as itself), or None for any other shape."""
    if isinstance(pipeline, LinearForm):
        return pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from juice.model.features import VisitFeatures

    steps = dict(pipeline.steps)
    features, scale, model = steps.get("features"), steps.get("scale"), steps.get("model")
    if not (
        isinstance(features, VisitFeatures)
        and (scale == "passthrough" or isinstance(scale, StandardScaler))
        and isinstance(model, LogisticRegression)
        and len(pipeline.steps) == 3
        and model.coef_.shape[0] == 1
    ):
        return None
    mean: np.ndarray | float = 0.0
    width: np.ndarray | float = 1.0
    if isinstance(scale, StandardScaler):  # fold the scaling into the coefficients' inputs
        mean = scale.mean_ if scale.with_mean else 0.0
        width = scale.scale_ if scale.with_std else 1.0
    return LinearForm(features.encoding, mean, width, model.coef_[0], float(model.intercept_[0]))


Scorer = Callable[[np.ndarray], np.ndarray]  # model matrix -> purchase probability


def scorer(model: LinearForm | Any) -> Scorer:
    """The purchase probability of a LinearForm, or of any other fitted pipeline through
    its own `predict_proba`."""
    if isinstance(model, LinearForm):
        return model
    return lambda matrix: model.predict_proba(matrix)[:, 1]


def linear_scorer(pipeline: Any) -> Scorer:
    """The pipeline's (or a LinearForm's) purchase probability as plain numpy, for the hot path.

    sklearn's `predict_proba` spends about 0.5 ms validating a 1-row input; our
    features, a standard scaler and a logistic regression are a few array operations.
    Any other pipeline shape keeps sklearn's own `predict_proba`.
    """
    return scorer(linear_form(pipeline) or pipeline)
