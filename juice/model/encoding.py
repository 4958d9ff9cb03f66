"""The arithmetic of the model's encodings of age and watch time, in numpy alone: the
fitted step (juice.model.features) and the scoring path (juice.model.linear) share it,
and scoring needs no scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from juice.model.matrix import AGE_COLUMN, FEMALE, FEMALE_COLUMN, FIRST_FLAVOUR_COLUMN
from juice.schema import AGE, FLAVOURS

AGE_ENCODINGS = ("linear", "decades")
WATCH_ENCODINGS = ("seconds", "log", "watched")
_DECADES = np.arange(30, 100, 10)  # bins 18-29, 30-39, ..., 90-100


@dataclass(frozen=True)
class Encoding:
    """How the matrix of `MODEL_COLUMNS` becomes model features.

    Args:
        watch: how seconds watched enter the model: raw "seconds", "log" (log1p of
            seconds/10, diminishing returns), "watched" (0/1), or a "+" combination.
        age: "linear" or "decades" (one indicator per decade, for a non-linear age effect).
    """

    watch: str
    age: str

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64)
        seconds = matrix[:, FIRST_FLAVOUR_COLUMN:]
        parts = [matrix[:, FEMALE_COLUMN : FEMALE_COLUMN + 1]]
        if self.age == "linear":
            parts.append(matrix[:, AGE_COLUMN : AGE_COLUMN + 1])
        else:
            parts.append(matrix[:, AGE_COLUMN : AGE_COLUMN + 1] >= _DECADES)
        for encoding in self.watch.split("+"):
            if encoding == "seconds":
                parts.append(seconds)
            elif encoding == "log":
                parts.append(np.log1p(seconds / 10.0))
            else:
                parts.append(seconds > 0)
        return np.hstack(parts, dtype=np.float64)

    def names(self) -> list[str]:
        """Each output column's name."""
        names = [FEMALE]
        names += [AGE] if self.age == "linear" else [f"age>={d}" for d in _DECADES]
        for encoding in self.watch.split("+"):
            names += [f"{flavour}:{encoding}" for flavour in FLAVOURS]
        return names

    def fields_out(self) -> list[str]:
        """The model column (`MODEL_COLUMNS`) each output column is computed from."""
        return [name.split(":")[0].split(">=")[0] for name in self.names()]
