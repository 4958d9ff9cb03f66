"""The model's first step: encodings of age and watch time that the search compares (its
input is the matrix of juice.model.matrix)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from juice.model.matrix import (
    AGE_COLUMN,
    FEMALE,
    FEMALE_COLUMN,
    FIRST_FLAVOUR_COLUMN,
    MODEL_COLUMNS,
)
from juice.schema import AGE, FLAVOURS

AGE_ENCODINGS = ("linear", "decades")
_DECADES = np.arange(30, 100, 10)  # bins 18-29, 30-39, ..., 90-100


class VisitFeatures(TransformerMixin, BaseEstimator):
    """Turns `MODEL_COLUMNS` into model features.

    Args:
        watch: how seconds watched enter the model: raw "seconds", "log" (log1p of
            seconds/10, diminishing returns), "watched" (0/1), or a "+" combination.
        age: "linear" or "decades" (one indicator per decade, for a non-linear age effect).
    """

    def __init__(self, watch: str = "log+watched", age: str = "linear") -> None:
        self.watch = watch
        self.age = age

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> VisitFeatures:
        if set(self.watch.split("+")) - {"seconds", "log", "watched"}:
            raise ValueError(f"unknown watch encoding {self.watch!r}")
        if self.age not in AGE_ENCODINGS:
            raise ValueError(f"unknown age encoding {self.age!r}")
        validate_data(self, X, reset=True)
        if self.n_features_in_ != len(MODEL_COLUMNS):
            raise ValueError(f"expected {len(MODEL_COLUMNS)} columns, got {self.n_features_in_}")
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = np.asarray(X, dtype=np.float64)  # no sklearn validation here: 1-row calls are hot
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns")
        seconds = X[:, FIRST_FLAVOUR_COLUMN:]
        parts = [X[:, FEMALE_COLUMN : FEMALE_COLUMN + 1]]
        if self.age == "linear":
            parts.append(X[:, AGE_COLUMN : AGE_COLUMN + 1])
        else:
            parts.append(X[:, AGE_COLUMN : AGE_COLUMN + 1] >= _DECADES)
        for encoding in self.watch.split("+"):
            if encoding == "seconds":
                parts.append(seconds)
            elif encoding == "log":
                parts.append(np.log1p(seconds / 10.0))
            else:
                parts.append(seconds > 0)
        return np.hstack(parts, dtype=np.float64)

    def fields_out(self) -> list[str]:
        """The model column (`MODEL_COLUMNS`) each output column is computed from."""
        return [name.split(":")[0].split(">=")[0] for name in self.get_feature_names_out()]

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = [FEMALE]
        names += [AGE] if self.age == "linear" else [f"age>={d}" for d in _DECADES]
        for encoding in self.watch.split("+"):
            names += [f"{flavour}:{encoding}" for flavour in FLAVOURS]
        return np.asarray(names, dtype=object)
