"""The one definition of an analytics export: fields, bounds, codes and dtypes."""

from __future__ import annotations

import polars as pl

FLAVOURS: tuple[str, ...] = (
    "apple",
    "aronia",
    "banana",
    "bearberry",
    "blackberry",
    "blackcurrant",
    "blueberry",
    "cantaloupe",
    "citron",
    "clementine",
    "coconut",
    "guava",
    "lime",
    "lychee",
    "mango",
    "orange",
    "peach",
    "plum",
    "quince",
    "raspberry",
    "redcurrant",
    "sambucus",
    "strawberries",
)

SEX = "sex"
AGE = "age"
LABEL = "purchased"
# Appended by scoring (`juice predict`, `/predict_csv`): the contract names them.
PROBABILITY = "probability"
WILL_BUY = "will_buy"
MODEL_VERSION = "model_version"  # the version that scored a visit (the prediction log)
LINE = "line"  # 1-based line number in the source export, kept for lineage
# Who made a champion whose alias was moved in MLflow, not by juice (/model's promotion.by).
OUTSIDE_JUICE = "outside juice"
SOURCE = "source"

FEATURES: tuple[str, ...] = (SEX, AGE, *FLAVOURS)
RAW_COLUMNS: tuple[str, ...] = (*FEATURES, LABEL)

FEMALE_CODE, MALE_CODE = "F", "M"  # the codes of `sex`
SEX_CODES: tuple[str, ...] = (FEMALE_CODE, MALE_CODE)
BOUGHT_CODE, NOT_BOUGHT_CODE = "Y", "N"  # the codes of `purchased`
LABEL_CODES: dict[str, bool] = {BOUGHT_CODE: True, NOT_BOUGHT_CODE: False}

AGE_MIN = 18
AGE_MAX = 100
SECONDS_MIN = 0
DEFAULT_MAX_SECONDS = 3600  # an hour of one ad is already absurd; configurable per stage


def value_ranges(max_seconds: int) -> dict[str, tuple[int, int]]:
    """The inclusive range of each whole-number field: age, and the seconds of each ad
    (up to `max_seconds`, the pipeline's parameter)."""
    return {AGE: (AGE_MIN, AGE_MAX), **dict.fromkeys(FLAVOURS, (SECONDS_MIN, max_seconds))}


SexDtype = pl.Enum(list(SEX_CODES))

# The typed form of an accepted row, as published in the dataset.
DATASET_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    SEX: SexDtype,
    AGE: pl.Int16,
    **dict.fromkeys(FLAVOURS, pl.Int32),
    LABEL: pl.Boolean,
    SOURCE: pl.String,
    LINE: pl.Int64,
}
