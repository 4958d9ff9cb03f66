"""The visits a drift check compares, as numpy arrays, after checks Frouros does not make
(NaN gives a p-value of NaN there, silently)."""

from __future__ import annotations

import numpy as np
import polars as pl

from juice.schema import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    FEATURES,
    FLAVOURS,
    LABEL,
    SECONDS_MIN,
    SEX,
    SEX_CODES,
)


def feature_arrays(frame: pl.DataFrame, role: str) -> dict[str, np.ndarray]:
    """The feature columns of typed visits (`role`: reference or current, for the errors).

    Raises:
        ValueError: a missing column, a null, NaN or out-of-range value.
    """
    missing = [name for name in FEATURES if name not in frame.columns]
    if missing:
        raise ValueError(f"the {role} visits lack column(s): {', '.join(missing)}")
    return {SEX: _sex(frame[SEX], role)} | {
        name: _whole_numbers(frame[name], role) for name in (AGE, *FLAVOURS)
    }


def _sex(column: pl.Series, role: str) -> np.ndarray:
    if not isinstance(column.dtype, pl.Enum | pl.Categorical | pl.String):
        raise ValueError(f"{role} column {SEX} has type {column.dtype}; expected F/M codes")
    codes = column.cast(pl.String)
    if codes.null_count():
        raise ValueError(f"{role} column {SEX} has {codes.null_count()} missing value(s)")
    unknown = codes.filter(~codes.is_in(list(SEX_CODES))).unique().sort().head(3).to_list()
    if unknown:
        raise ValueError(f"{role} column {SEX} holds {unknown}; expected one of {SEX_CODES}")
    return codes.to_numpy()


def _whole_numbers(column: pl.Series, role: str) -> np.ndarray:
    """Age or seconds: numbers, none missing, age within its range, seconds not negative
    (their upper bound is the pipeline's parameter, applied when the visits were parsed)."""
    name = column.name
    if not column.dtype.is_numeric():
        raise ValueError(f"{role} column {name} has type {column.dtype}; expected numbers")
    if column.null_count():
        raise ValueError(f"{role} column {name} has {column.null_count()} missing value(s)")
    if column.dtype.is_float() and not column.is_finite().all():
        raise ValueError(f"{role} column {name} holds NaN or infinite values")
    values = column.to_numpy()
    if not len(values):
        return values
    if name == AGE and not AGE_MIN <= values.min() <= values.max() <= AGE_MAX:
        raise ValueError(f"{role} column {AGE} leaves {AGE_MIN}..{AGE_MAX}")
    if name != AGE and values.min() < SECONDS_MIN:
        raise ValueError(f"{role} column {name} holds negative seconds")
    return values


def labels(frame: pl.DataFrame) -> np.ndarray | None:
    """The window's labels as 1.0/0.0 with NaN where unknown; None without the column."""
    if LABEL not in frame.columns:
        return None
    column = frame[LABEL]
    if column.dtype not in (pl.Boolean, pl.Null):
        raise ValueError(f"current column {LABEL} has type {column.dtype}; expected booleans")
    return column.cast(pl.Float64).to_numpy()


def checked_probability(probability: np.ndarray, rows: int) -> np.ndarray:
    """One finite probability in [0, 1] per row."""
    p = np.asarray(probability, dtype=np.float64)
    if p.ndim != 1 or len(p) != rows:
        raise ValueError(f"expected one probability per window row ({rows:,}), got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must be finite numbers in [0, 1]")
    return p
