"""Why a visitor got their probability: exact per-field contributions in log-odds.

For our linear model each feature column comes from exactly one input field (sex, age
or one flavour), so the log-odds split exactly into a baseline (the reference visitor's
log-odds) plus one contribution per field: that field's feature columns, times their
weights, relative to the reference. An ad not watched contributes exactly 0 because the
reference watched no ad.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from juice.errors import JuiceError
from juice.model.linear import linear_form
from juice.model.matrix import AGE_COLUMN, FEMALE, FEMALE_COLUMN, MODEL_COLUMNS
from juice.schema import FEATURES, FEMALE_CODE, MALE_CODE, SEX


@dataclass(frozen=True)
class Reference:
    """The visitor every explanation is relative to: one sex, one age, no ad watched."""

    sex: str
    age: int

    def matrix(self) -> np.ndarray:
        row = np.zeros((1, len(MODEL_COLUMNS)))
        row[0, FEMALE_COLUMN] = self.sex == FEMALE_CODE
        row[0, AGE_COLUMN] = self.age
        return row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Models trained before the card kept its reference are explained against this one.
DEFAULT_REFERENCE = Reference(sex=MALE_CODE, age=35)


def reference_visitor(matrix: np.ndarray) -> Reference:
    """The training data's typical visitor: its more common sex and its median age."""
    female = matrix[:, FEMALE_COLUMN].mean() > 0.5
    age = round(float(np.median(matrix[:, AGE_COLUMN])))
    return Reference(sex=FEMALE_CODE if female else MALE_CODE, age=age)


class Explainer:
    """Exact log-odds contributions of each input field (`juice.schema.FEATURES`)."""

    def __init__(self, model: Any, reference: Reference) -> None:
        """`model`: a fitted pipeline or its `LinearForm`."""
        form = linear_form(model)
        if form is None:
            raise JuiceError("only a linear model (features, scaling, logistic) is explainable")
        self.reference = reference
        self._form = form
        fields = [SEX if name == FEMALE else name for name in form.features.fields_out()]
        # which input field each feature column comes from, as a 0/1 matrix
        self._owner = np.array([[field == f for f in FEATURES] for field in fields], dtype=float)
        self._reference_features = form.features.transform(reference.matrix())
        self.baseline = float(form.logit(reference.matrix())[0])

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """One row per visit, one column per input field (in `FEATURES` order)."""
        shift = (self._form.features.transform(matrix) - self._reference_features) * (
            self._form.weights
        )
        return shift @ self._owner
