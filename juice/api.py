"""The HTTP API's data models, derived from the schema: one source for every bound."""

from __future__ import annotations

from itertools import chain, islice
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from juice.features import MODEL_COLUMNS
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


def visit_model(max_seconds: int = DEFAULT_MAX_SECONDS) -> type[dict]:
    """A visit as the API takes it: sex and age required, each flavour optional (0).

    A TypedDict, not a BaseModel: pydantic validates a list of them about three times
    faster, and validation is most of a 1,000-visit request. Validated visits have every
    key, absent flavours at 0, in `MODEL_COLUMNS`' order.
    """
    fields: dict[str, Any] = {
        SEX: Annotated[Literal[tuple(SEX_CODES)], Field(description="M or F")],
        AGE: Annotated[int, Field(ge=AGE_MIN, le=AGE_MAX, description="years")],
    }
    for flavour in FLAVOURS:
        seconds = Field(
            0, ge=SECONDS_MIN, le=max_seconds, description=f"seconds of the {flavour} ad watched"
        )
        fields[flavour] = NotRequired[Annotated[int, seconds]]
    visit = TypedDict("Visit", fields)  # type: ignore[operator]
    return with_config(ConfigDict(extra="forbid", strict=True))(visit)


class Prediction(TypedDict):
    probability: Annotated[float, Field(ge=0, le=1)]
    will_buy: bool
    threshold: float
    model_version: str


def visits_matrix(visits: list[dict[str, Any]]) -> np.ndarray:
    """Validated visits as the model matrix (female, age, seconds per flavour)."""
    count = len(visits)
    numbers = np.fromiter(
        chain.from_iterable(islice(visit.values(), 1, None) for visit in visits),
        dtype=np.float64,
        count=count * (len(MODEL_COLUMNS) - 1),
    ).reshape(count, len(MODEL_COLUMNS) - 1)
    female = np.fromiter((visit[SEX] == "F" for visit in visits), dtype=np.float64, count=count)
    return np.column_stack([female, numbers])


def predictions(
    probability: np.ndarray, decision: np.ndarray, threshold: float, version: str
) -> list[Prediction]:
    """One Prediction per visit, in order."""
    return [
        {"probability": p, "will_buy": d, "threshold": threshold, "model_version": version}
        for p, d in zip(probability.tolist(), decision.tolist(), strict=True)
    ]


EXAMPLE_VISIT: dict[str, Any] = {
    "sex": "F",
    "age": 41,
    "blackcurrant": 76,
    "lychee": 9,
    "raspberry": 298,
}


def complete_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """BentoML's OpenAPI document, completed to say what the service really answers.

    Error bodies carry `detail` as a list of `{loc, msg, ...}`; the guarded routes may
    answer 401, 413 and 415; the model card is also a GET; CSV scoring answers text/csv.
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    detail = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}},
        },
    }
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        if name in schemas:
            schemas[name]["properties"]["detail"] = detail
    client_error = {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InvalidArgument"}}
        }
    }
    paths = document.get("paths", {})
    for path, status, description in (
        ("/predict", "415", "Unsupported Media Type"),
        ("/predict_csv", "415", "Unsupported Media Type"),
        ("/predict_csv", "413", "Payload Too Large"),
    ):
        if path in paths:
            paths[path]["post"]["responses"][status] = {"description": description, **client_error}
    for path in ("/predict", "/predict_csv", "/model"):
        if path in paths:
            paths[path]["post"]["responses"]["401"] = {
                "description": "Unauthorized",
                **client_error,
            }
    if "/predict_csv" in paths:
        paths["/predict_csv"]["post"]["responses"]["200"] = {
            "description": "The export's rows with probability,will_buy appended",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    if "/model" in paths and "get" not in paths["/model"]:
        post = paths["/model"]["post"]
        paths["/model"]["get"] = {
            key: value for key, value in post.items() if key not in ("requestBody", "operationId")
        } | {"operationId": "poljuice__model_get"}
    return document
