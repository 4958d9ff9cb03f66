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
from juice.settings import Settings


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
    # The retraining policy: the dataset holds the N most recently landed exports (None:
    # every export), so a model retrained after drift learns the present.
    recent_exports: int | None = Field(None, ge=1)
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


class DriftParams(_Frozen):
    """How sure and how large a change must be before the check calls it drift.

    The defaults were chosen with `benchmarks/drift.py` (stable windows for false alarms,
    the drifted scenarios for detection); its output and the README give the figures.
    """

    # Benjamini-Hochberg over all feature tests (48 when every KS runs). A check runs
    # every hour: the rate keeps a month of stable checks free of false alarms, at the
    # cost of subtle changes (a few points of one ad's watch share) going unseen.
    false_discovery_rate: float = Field(0.0005, gt=0, lt=1)
    # Effect floors, so that a huge window does not alarm on a change too small to
    # retrain for. Share tests (sex, each ad's watch share): |current - reference share|;
    # KS tests (age, seconds among watchers): the KS statistic. At the window sizes of an
    # hourly check the p-value decides; the floors bind in windows of many thousands.
    min_share_difference: float = Field(0.03, ge=0, le=1)
    min_ks_statistic: float = Field(0.05, ge=0, le=1)  # age
    min_seconds_ks_statistic: float = Field(0.1, ge=0, le=1)  # seconds among watchers
    # Below this many visits in the window (or the reference) the verdict is
    # insufficient-data: fewer visits cannot tell the planted changes from chance.
    min_window_rows: int = Field(1000, ge=1)
    # A check judges at most the newest this many visits landed since its reference, so
    # its power does not fade as visits pile up nor its verdict lag a change.
    window_visits: int = Field(3000, ge=1)
    # The among-watchers KS is skipped (and said so) below this many watchers on either
    # side: after the correction, a handful of watchers can only reveal a huge change.
    min_watchers: int = Field(20, ge=2)

    # Concept drift needs this many labelled rows with both outcomes (as for the window),
    # and judges the newest `concept_visits` labelled visits of the window: a change of
    # what makes people buy shows at once, not diluted by the window's older part.
    min_labelled_rows: int = Field(1000, ge=10)
    concept_visits: int = Field(1000, ge=10)
    # Resamples for both bootstrap intervals (10 beyond each end of a 95% interval).
    bootstrap: int = Field(400, ge=50)
    # Two-sided confidence of the intervals (a check an hour: high, so stable checks
    # stay quiet for a month).
    confidence: float = Field(0.99, gt=0.5, lt=1)
    # Average precision: drift when the window's upper bound is below the champion's test
    # figure by more than this (that figure has noise of its own). It also falls when only
    # who visits changes (the base rate), where the model is still right.
    average_precision_tolerance: float = Field(0.02, ge=0, le=1)
    # Whether that view alone makes concept drift. It also falls when only who visits
    # changes (the base rate), where the champion is still right: reported, not deciding.
    average_precision_decides: bool = False
    # Precision at the threshold: drift when the interval of (realised - expected) on the
    # visitors the champion targeted lies below minus this: its promises no longer hold.
    precision_tolerance: float = Field(0.08, ge=0, le=1)
    # Whether that view alone makes concept drift (the one that moves first when what
    # makes people buy changes: the visitors the champion targets stop buying).
    precision_decides: bool = True
    # Log-loss: drift when the lower bound of the excess over the expected log-loss is
    # above this (nats per row): stable and shifted-visitor windows sit near 0, a change
    # of what makes people buy far above.
    log_loss_tolerance: float = Field(0.03, ge=0)
    # Page-Hinkley over the per-row Brier excess (y - p)^2 - p(1 - p). Frouros' default
    # lambda (50) never fires on windows of an hourly check; a lower one trades false
    # alarms against how soon a change part-way through a window is seen.
    page_hinkley_delta: float = Field(0.005, ge=0, le=1)
    page_hinkley_lambda: float = Field(15.0, gt=0)
    page_hinkley_alpha: float = Field(0.9999, gt=0, le=1)
    page_hinkley_min_rows: int = Field(30, ge=1)
    # Whether the streaming detector firing alone makes concept drift: it finds a change
    # that comes mid-window, for a few false alarms of its own (reported either way).
    stream_decides: bool = False
    seed: int = 0

    # Incidents (`juice.monitoring.incidents`): a sustained change is one incident.
    # A champion that does worse on the new regime is replaced by one trained on it once
    # it holds this many visits ...
    retrain_visits: int = Field(2000, ge=1)
    # ... and trained against once more when it holds this many: as many as a champion
    # should learn from (a model of a few thousand visits is poorer and overconfident).
    settle_visits: int = Field(20_000, ge=1)
    # A champion that handles the new regime is confirmed on it once it holds this many.
    confirm_visits: int = Field(4000, ge=1)
    # A settled incident whose change keeps growing, though the champion handles it,
    # moves the reference to the newest this many visits instead of training again.
    reference_visits: int = Field(5000, ge=1)
    # Stable checks in a row that close a settled incident (a change still growing may
    # pause for a few hours between refreshes: half a day keeps it one incident).
    close_after: int = Field(12, ge=1)


class Params(_Frozen):
    build_dataset: BuildDatasetParams = BuildDatasetParams()
    train: TrainParams = TrainParams()
    drift_check: DriftParams = DriftParams()


def workspace_params(settings: Settings) -> Params:
    """The workspace's params.yaml: what commands, flows and the service read."""
    return load_params(settings.workspace.params_file)


def seconds_bound(settings: Settings) -> int:
    """The most seconds of one ad a visit may hold (`build_dataset.max_seconds`): the one
    reader of the bound the parser, the scorer and the service's API all apply."""
    return workspace_params(settings).build_dataset.max_seconds


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
