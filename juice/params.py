"""Pipeline parameters from params.yaml, one frozen model per DVC stage."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    model_validator,
)

from juice.errors import JuiceError
from juice.schema import DEFAULT_MAX_SECONDS


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def flat(self) -> dict[str, Any]:
        """Every parameter under its dotted path (`search.cv_folds`), for run trackers."""
        return _flatten(self.model_dump(mode="json"))


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class ValidationParams(_Frozen):
    min_rows_for_batch_checks: int = Field(500, ge=1)
    purchase_rate_min: float = Field(0.02, ge=0, le=1)
    purchase_rate_max: float = Field(0.60, ge=0, le=1)
    ads_per_visit_min: float = Field(0.2, ge=0)
    ads_per_visit_max: float = Field(12.0, ge=0)
    max_quarantine_share: float = Field(0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ValidationParams:
        if self.purchase_rate_min > self.purchase_rate_max:
            raise ValueError("purchase_rate_min is above purchase_rate_max")
        if self.ads_per_visit_min > self.ads_per_visit_max:
            raise ValueError("ads_per_visit_min is above ads_per_visit_max")
        return self


class BuildDatasetParams(_Frozen):
    max_seconds: int = Field(DEFAULT_MAX_SECONDS, ge=1)
    validation: ValidationParams = ValidationParams()


class SplitParams(_Frozen):
    validation_size: float = Field(0.2, gt=0, lt=0.5)
    test_size: float = Field(0.2, gt=0, lt=0.5)
    seed: int = 42


class Age(StrEnum):
    """How age enters the model."""

    LINEAR = "linear"
    DECADES = "decades"


class WatchPart(StrEnum):
    """One encoding of seconds watched; a watch encoding joins some with "+"."""

    SECONDS = "seconds"
    LOG = "log"
    WATCHED = "watched"


class Scale(StrEnum):
    STANDARD = "standard"
    NONE = "none"


class Penalty(StrEnum):
    L2 = "l2"
    L1 = "l1"


class ClassWeight(StrEnum):
    NONE = "none"
    BALANCED = "balanced"


def _watch_encoding(value: str) -> str:
    parts = value.split("+")
    known = {part.value for part in WatchPart}
    unknown = [part for part in parts if part not in known]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(
            f"{value!r} is not a watch encoding: join {', '.join(sorted(known))} with '+'"
        )
    return value


WatchEncoding = Annotated[str, AfterValidator(_watch_encoding)]


class GridEntry(_Frozen):
    """One sub-grid over whole pipelines; each key lists the choices to compare."""

    watch: list[WatchEncoding] = Field(default_factory=lambda: ["log+watched"], min_length=1)
    age: list[Age] = Field(default_factory=lambda: [Age.LINEAR], min_length=1)
    scale: list[Scale] = Field(default_factory=lambda: [Scale.STANDARD], min_length=1)
    penalty: list[Penalty] = Field(default_factory=lambda: [Penalty.L2], min_length=1)
    C: list[PositiveFloat] = Field(default_factory=lambda: [1.0], min_length=1)
    class_weight: list[ClassWeight] = Field(
        default_factory=lambda: [ClassWeight.NONE], min_length=1
    )


class SearchParams(_Frozen):
    scoring: Literal["average_precision", "roc_auc"] = "average_precision"
    cv_folds: int = Field(3, ge=2)
    n_jobs: int = -1
    grid: list[GridEntry] = Field(
        default_factory=lambda: [
            GridEntry(
                watch=["seconds", "log", "watched", "log+watched"],
                C=[0.01, 1.0],
                class_weight=[ClassWeight.NONE, ClassWeight.BALANCED],
            )
        ],
        min_length=1,
    )


class GateParams(_Frozen):
    metric: Literal["average_precision", "roc_auc"] = "average_precision"
    margin: float = Field(0.01, ge=0)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    bootstrap: int = Field(200, ge=20)
    seed: int = 7


class TrainParams(_Frozen):
    beta: float = Field(0.3, gt=0)
    split: SplitParams = SplitParams()
    search: SearchParams = SearchParams()
    gate: GateParams = GateParams()


class Params(_Frozen):
    build_dataset: BuildDatasetParams = BuildDatasetParams()
    train: TrainParams = TrainParams()


def load_params(path: Path) -> Params:
    """Reads params.yaml; a missing file means the defaults, a wrong key is an error."""
    if not path.exists():
        return Params()
    try:
        return Params.model_validate(yaml.safe_load(path.read_text()) or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise JuiceError(f"{path}: {where}: {first['msg']}") from error
