"""Pipeline parameters from params.yaml, one frozen model per DVC stage."""

from __future__ import annotations

from pathlib import Path

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


class Params(_Frozen):
    build_dataset: BuildDatasetParams = BuildDatasetParams()


def load_params(path: Path) -> Params:
    """Reads params.yaml; a missing file means the defaults, a wrong key is an error."""
    if not path.exists():
        return Params()
    return Params.model_validate(yaml.safe_load(path.read_text()) or {})
