"""The HTTP API's data models, derived from the schema: one source for every bound."""

from __future__ import annotations

from functools import cache
from itertools import chain, islice
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

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
    """Visits as the model matrix (female, age, seconds per flavour), without pandas.

    Reads each visit's fields in the Visit model's order, which is `MODEL_COLUMNS`' order.
    """
    count = len(visits)
    fields = [visit.__dict__ for visit in visits]
    numbers = np.fromiter(
        chain.from_iterable(islice(values.values(), 1, None) for values in fields),
        dtype=np.float64,
        count=count * (len(MODEL_COLUMNS) - 1),
    ).reshape(count, len(MODEL_COLUMNS) - 1)
    female = np.fromiter((values[SEX] == "F" for values in fields), dtype=np.float64, count=count)
    return np.column_stack([female, numbers])


def predictions(
    probability: np.ndarray, decision: np.ndarray, threshold: float, version: str
) -> list[Prediction]:
    """One Prediction per visit (validated in one pydantic-core call, not 1,000)."""
    return _predictions_adapter().validate_python(
        [
            {"probability": p, "will_buy": d, "threshold": threshold, "model_version": version}
            for p, d in zip(probability.tolist(), decision.tolist(), strict=True)
        ]
    )


@cache
def _predictions_adapter() -> TypeAdapter[list[Prediction]]:
    return TypeAdapter(list[Prediction])


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
