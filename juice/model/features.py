"""The model's first step: encodings of age and watch time that the search compares (its
input is the matrix of juice.model.matrix; the arithmetic is juice.model.encoding)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from juice.model.encoding import AGE_ENCODINGS, WATCH_ENCODINGS, Encoding
from juice.model.matrix import MODEL_COLUMNS


class VisitFeatures(TransformerMixin, BaseEstimator):
    """Turns `MODEL_COLUMNS` into model features (see `Encoding` for the arguments)."""

    def __init__(self, watch: str = "log+watched", age: str = "linear") -> None:
        self.watch = watch
        self.age = age

    @property
    def encoding(self) -> Encoding:
        return Encoding(self.watch, self.age)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> VisitFeatures:
        if set(self.watch.split("+")) - set(WATCH_ENCODINGS):
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
        return self.encoding.transform(X)

    def fields_out(self) -> list[str]:
        """The model column (`MODEL_COLUMNS`) each output column is computed from."""
        return self.encoding.fields_out()

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.encoding.names(), dtype=object)
