"""The HTTP API's data models, derived from the schema: one source for every bound."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from juice.schema import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    DEFAULT_MAX_SECONDS,
    FLAVOURS,
    SECONDS_MIN,
    SEX,
    SEX_CODES,
)

MAX_VISITS = 10_000  # per request

Sex = Literal[SEX_CODES]  # type: ignore[valid-type]


def visit_model(max_seconds: int = DEFAULT_MAX_SECONDS) -> type[BaseModel]:
    """A visit as the API takes it: sex and age required, each flavour optional (0)."""
    fields: dict[str, Any] = {
        SEX: (Literal[tuple(SEX_CODES)], Field(description="M or F")),
        AGE: (int, Field(ge=AGE_MIN, le=AGE_MAX, description="years")),
    }
    for flavour in FLAVOURS:
        fields[flavour] = (
            int,
            Field(
                0,
                ge=SECONDS_MIN,
                le=max_seconds,
                description=f"seconds of the {flavour} ad watched",
            ),
        )
    return create_model(
        "Visit",
        __config__=ConfigDict(extra="forbid", strict=True, frozen=True),
        **fields,
    )


class Prediction(BaseModel):
    probability: float = Field(ge=0, le=1)
    will_buy: bool
    threshold: float
    model_version: str


def visits_matrix(visits: list[BaseModel]) -> np.ndarray:
    """Visits as the model matrix (female, age, seconds per flavour), without pandas."""
    return np.array(
        [[v.sex == "F", v.age, *(getattr(v, f) for f in FLAVOURS)] for v in visits],  # type: ignore[attr-defined]
        dtype=np.float64,
    )


EXAMPLE_VISIT: dict[str, Any] = {
    "sex": "F",
    "age": 41,
    "blackcurrant": 76,
    "lychee": 9,
    "raspberry": 298,
}
VisitList = Annotated[list, Field(min_length=1, max_length=MAX_VISITS)]
