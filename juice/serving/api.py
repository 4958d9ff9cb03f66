"""The HTTP API's data models, derived from the schema: one source for every bound."""

from __future__ import annotations

import json
from itertools import chain, islice
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from juice.model.matrix import MODEL_COLUMNS
from juice.schema import (
    AGE,
    DEFAULT_MAX_SECONDS,
    FEATURES,
    FEMALE_CODE,
    FLAVOURS,
    MALE_CODE,
    SEX,
    SEX_CODES,
    value_ranges,
)

MAX_VISITS = 10_000  # per request


def visit_model(max_seconds: int = DEFAULT_MAX_SECONDS) -> Any:
    """A visit as the API takes it: sex and age required, each flavour optional (0).

    A TypedDict, not a BaseModel: pydantic validates a list of them about three times
    faster, and validation is most of a 1,000-visit request. Validated visits have every
    key, absent flavours at 0, in `MODEL_COLUMNS`' order.
    """
    ranges = value_ranges(max_seconds)
    fields: dict[str, Any] = {
        SEX: Annotated[
            Literal[tuple(SEX_CODES)], Field(description=f"{MALE_CODE} or {FEMALE_CODE}")
        ],
        AGE: Annotated[int, Field(ge=ranges[AGE][0], le=ranges[AGE][1], description="years")],
    }
    for flavour in FLAVOURS:
        least, most = ranges[flavour]
        seconds = Field(0, ge=least, le=most, description=f"seconds of the {flavour} ad watched")
        fields[flavour] = NotRequired[Annotated[int, seconds]]
    visit = TypedDict("Visit", fields)  # type: ignore[misc]  # built from the schema
    return with_config(ConfigDict(extra="forbid", strict=True))(visit)


def visits_type(max_seconds: int = DEFAULT_MAX_SECONDS) -> Any:
    """/predict's `visits`: 1 to MAX_VISITS visits (for a signature BentoML reads)."""
    return Annotated[
        list[visit_model(max_seconds)],  # type: ignore[misc]
        Field(min_length=1, max_length=MAX_VISITS, examples=[[EXAMPLE_VISIT]]),
    ]


class Prediction(TypedDict):
    probability: Annotated[float, Field(ge=0, le=1)]
    will_buy: bool
    threshold: float
    model_version: str


class Explanation(Prediction):
    """A prediction with its exact decomposition in log-odds:
    `baseline + sum(contributions) = logit(probability)`."""

    baseline: float  # the reference visitor's log-odds
    contributions: dict[str, float]  # per input field: sex, age, each flavour


def visits_matrix(visits: list[dict[str, Any]]) -> np.ndarray:
    """Validated visits as the model matrix (female, age, seconds per flavour)."""
    count = len(visits)
    numbers = np.fromiter(
        chain.from_iterable(islice(visit.values(), 1, None) for visit in visits),
        dtype=np.float64,
        count=count * (len(MODEL_COLUMNS) - 1),
    ).reshape(count, len(MODEL_COLUMNS) - 1)
    female = np.fromiter(
        (visit[SEX] == FEMALE_CODE for visit in visits), dtype=np.float64, count=count
    )
    return np.column_stack([female, numbers])


def predictions(
    probability: np.ndarray, decision: np.ndarray, threshold: float, version: str
) -> list[Prediction]:
    """One Prediction per visit, in order."""
    return [
        {"probability": p, "will_buy": d, "threshold": threshold, "model_version": version}
        for p, d in zip(probability.tolist(), decision.tolist(), strict=True)
    ]


def explanations(
    answers: list[Prediction], baseline: float, contributions: np.ndarray
) -> list[Explanation]:
    """Each prediction with the baseline and its row of contributions (FEATURES order)."""
    return [
        {**answer, "baseline": baseline, "contributions": dict(zip(FEATURES, row, strict=True))}
        for answer, row in zip(answers, contributions.tolist(), strict=True)
    ]


REJECTED_HEADER_BYTES = 4096  # common clients refuse response headers past 8 KB in all
REJECTED_REASON_CHARS = 200


def rejected_lines_header(problems: list[tuple[int, str]]) -> str:
    """`X-Rejected-Lines`: JSON `[line, reason]` pairs, each reason cut short, as many as
    fit in REJECTED_HEADER_BYTES (the count of all is `X-Rows-Rejected`)."""
    kept: list[tuple[int, str]] = []
    for line, reason in problems:
        short = reason if len(reason) <= REJECTED_REASON_CHARS else reason[:197] + "..."
        if len(json.dumps([*kept, (line, short)])) > REJECTED_HEADER_BYTES:
            break
        kept.append((line, short))
    return json.dumps(kept)


def request_visits(visits: pl.DataFrame, *, watched_only: bool = True) -> list[dict[str, Any]]:
    """Typed visits (schema dtypes) as an API client sends them: sex, age and the
    flavours, only those watched (`watched_only`) or every one."""
    return [
        {key: str(value) if key == SEX else value for key, value in row.items()
         if not watched_only or key in (SEX, AGE) or value}
        for row in visits.select(SEX, AGE, *FLAVOURS).iter_rows(named=True)
    ]  # fmt: skip


EXAMPLE_VISIT: dict[str, Any] = {
    SEX: FEMALE_CODE,
    "age": 41,
    "blackcurrant": 76,
    "lychee": 9,
    "raspberry": 298,
}
