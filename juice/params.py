"""Pipeline parameters from params.yaml, one frozen model per DVC stage."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from juice.schema import DEFAULT_MAX_SECONDS


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


GridValue = str | float | int | None


class SearchParams(_Frozen):
    scoring: Literal["average_precision", "roc_auc"] = "average_precision"
    cv_folds: int = Field(3, ge=2)
    n_jobs: int = -1
    # Sub-grids over whole pipelines; keys: watch, age, scale, penalty, C, class_weight.
    grid: list[dict[str, list[GridValue]]] = Field(
        default_factory=lambda: [
            {
                "watch": ["seconds", "log", "watched", "log+watched"],
                "C": [0.01, 1.0],
                "class_weight": ["none", "balanced"],
            }
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
    return Params.model_validate(yaml.safe_load(path.read_text()) or {})
