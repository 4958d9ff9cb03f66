"""The model's arithmetic: features, scaling and a logistic regression as plain numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from juice.model.features import VisitFeatures


@dataclass(frozen=True)
class LinearForm:
    """logit(x) = intercept + ((features(x) - mean) / width) @ coef, for every pipeline
    shape the grid can pick (our features, a standard scaler or none, a logistic
    regression)."""

    features: VisitFeatures
    mean: np.ndarray | float
    width: np.ndarray | float
    coef: np.ndarray
    intercept: float

    @property
    def weights(self) -> np.ndarray:
        """Each feature column's weight on the raw (unscaled) feature value."""
        return self.coef / self.width

    def logit(self, matrix: np.ndarray) -> np.ndarray:
        """Log-odds of purchase for each row of the model matrix."""
        return ((self.features.transform(matrix) - self.mean) / self.width) @ self.coef + (
            self.intercept
        )


def linear_form(pipeline: Any) -> LinearForm | None:
    """The pipeline as a LinearForm, or None for any other shape."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

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
    return LinearForm(features, mean, width, model.coef_[0], float(model.intercept_[0]))
