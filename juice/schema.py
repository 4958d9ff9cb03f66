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
LINE = "line"  # 1-based line number in the source export, kept for lineage
SOURCE = "source"

FEATURES: tuple[str, ...] = (SEX, AGE, *FLAVOURS)
RAW_COLUMNS: tuple[str, ...] = (*FEATURES, LABEL)

SEX_CODES: tuple[str, ...] = ("F", "M")
LABEL_CODES: dict[str, bool] = {"Y": True, "N": False}

AGE_MIN = 18
AGE_MAX = 100
SECONDS_MIN = 0
DEFAULT_MAX_SECONDS = 3600  # an hour of one ad is already absurd; configurable per stage

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
