"""Visits as the numeric matrix every model reads: its columns and their places.

Kept apart from the model's encodings (juice.model.features), so what only needs the
layout (the card, the registry, the service) does not import scikit-learn.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from juice.schema import AGE, FEMALE_CODE, FLAVOURS, SEX

FEMALE = "female"
MODEL_COLUMNS: tuple[str, ...] = (FEMALE, AGE, *FLAVOURS)  # the matrix a model reads
# Their places in it; the flavours run from FIRST_FLAVOUR_COLUMN to the end.
FEMALE_COLUMN, AGE_COLUMN, FIRST_FLAVOUR_COLUMN = (
    MODEL_COLUMNS.index(name) for name in (FEMALE, AGE, FLAVOURS[0])
)


def to_matrix(visits: pl.DataFrame) -> np.ndarray:
    """Typed visits (schema dtypes) as float64 columns `MODEL_COLUMNS`."""
    return _model_columns(visits).cast(pl.Float64).to_numpy()


def to_counts(visits: pl.DataFrame) -> list[np.ndarray]:
    """Typed visits as the integer columns `MODEL_COLUMNS` (the counts without a copy)."""
    return [column.to_numpy() for column in _model_columns(visits).iter_columns()]


def _model_columns(visits: pl.DataFrame) -> pl.DataFrame:
    """The visits' `MODEL_COLUMNS`, whole numbers as typed (female as 0 or 1)."""
    return visits.select(
        (pl.col(SEX) == FEMALE_CODE).cast(pl.UInt8).alias(FEMALE), pl.col(AGE), pl.col(FLAVOURS)
    )
