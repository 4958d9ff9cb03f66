"""Train the purchase model: split, grid search over whole pipelines, threshold, evaluate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from juice.errors import JuiceError
from juice.model.evaluation import (
    Evaluation,
    FlavourEffect,
    TargetingRow,
    evaluate,
    flavour_effects,
    targeting_table,
)
from juice.model.explanation import Reference, reference_visitor
from juice.model.features import VisitFeatures
from juice.model.matrix import to_matrix
from juice.model.thresholds import ThresholdChoice, select_threshold
from juice.params import (
    ClassWeight,
    GridEntry,
    Penalty,
    Scale,
    SearchParams,
    SplitParams,
    TrainParams,
)
from juice.schema import LABEL, LINE, SOURCE
from juice.settings import Settings

MIN_ROWS = 200
MIN_PER_CLASS = 20
_PENALTIES = {
    Penalty.L2: {"model__l1_ratio": 0.0, "model__solver": "lbfgs"},
    Penalty.L1: {"model__l1_ratio": 1.0, "model__solver": "liblinear"},
}
_SCALERS: dict[Scale, Callable[[], Any]] = {
    Scale.STANDARD: StandardScaler,
    Scale.NONE: lambda: "passthrough",
}


@dataclass(frozen=True)
class Split:
    """Model matrices and outcomes; the test part is never used for a choice."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline with its decision threshold and everything needed to judge it."""

    pipeline: Pipeline
    threshold: ThresholdChoice
    evaluation: Evaluation
    effects: list[FlavourEffect]
    best_params: dict[str, Any]
    cv_best_score: float
    cv_results: pl.DataFrame
    split: Split
    test_probability: np.ndarray
    search_seconds: float
    reference: Reference  # the visitor explanations are relative to
    targeting: list[TargetingRow]  # precision, recall and reach by threshold, on test data


@dataclass(frozen=True)
class TrainingOutcome:
    """What one training did: the version it registered and whether it now serves."""

    model_version: str
    promoted: bool
    reason: str
    threshold: float
    metrics: dict[str, float]
    champion: str | None
    dataset_version: str | None


def write_outcome(outcome: TrainingOutcome, settings: Settings) -> Path:
    """Keeps the last training's outcome in data/train.json (a DVC metric)."""
    path = settings.workspace.train_outcome
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(outcome), indent=2) + "\n")
    return path


def split_dataset(visits: pl.DataFrame, params: SplitParams) -> Split:
    """Seeded train / validation / test split by a hash of each row's lineage.

    A row keyed by (source, line) lands in the same part in every training, however
    much data is added: the test rows that judge a challenger were never trained on by
    the champion either, so the gate compares both on data fresh to both. Parts keep
    the purchase rate in expectation (the hash ignores the label). Rows without lineage
    are keyed by position.
    """
    labels = visits[LABEL].to_numpy().astype(bool)
    _check_trainable(labels)
    matrix = to_matrix(visits)
    keys = [SOURCE, LINE] if {SOURCE, LINE} <= set(visits.columns) else []
    rows = visits.select(keys) if keys else pl.DataFrame({"row": range(len(visits))})
    share = (rows.select(pl.struct(pl.all()).hash(params.seed) % 1_000_000) / 1_000_000).to_series()
    position = share.to_numpy()
    test = position < params.test_size
    validation = ~test & (position < params.test_size + params.validation_size)
    train = ~test & ~validation
    return Split(
        matrix[train],
        labels[train],
        matrix[validation],
        labels[validation],
        matrix[test],
        labels[test],
    )


def pipeline() -> Pipeline:
    """The model: features, scaling, logistic regression (the grid sets every step)."""
    return Pipeline(
        [
            ("features", VisitFeatures()),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )


def param_grid(grid: list[GridEntry]) -> list[dict[str, list[Any]]]:
    """params.yaml's friendly grid as GridSearchCV's, one sub-grid per penalty."""
    translated = []
    for entry in grid:
        base: dict[str, list[Any]] = {
            "features__watch": list(entry.watch),
            "features__age": [str(age) for age in entry.age],
            "scale": [_SCALERS[scale]() for scale in entry.scale],
            "model__C": list(entry.C),
            "model__class_weight": [
                None if weight is ClassWeight.NONE else str(weight) for weight in entry.class_weight
            ],
        }
        for penalty in entry.penalty:
            translated.append(base | {key: [value] for key, value in _PENALTIES[penalty].items()})
    return translated


def search(split: Split, params: SearchParams) -> GridSearchCV:
    """Cross-validated grid search on the training part, refit on all of it."""
    searcher = GridSearchCV(
        pipeline(),
        param_grid(params.grid),
        scoring=params.scoring,
        cv=StratifiedKFold(params.cv_folds, shuffle=True, random_state=0),
        n_jobs=params.n_jobs,
        refit=True,
        error_score="raise",
    )
    return searcher.fit(split.x_train, split.y_train)


def train_model(visits: pl.DataFrame, params: TrainParams) -> TrainedModel:
    """Search, choose the threshold on validation data, evaluate on test data."""
    split = split_dataset(visits, params.split)
    started = time.perf_counter()
    searcher = search(split, params.search)
    seconds = time.perf_counter() - started
    model: Pipeline = searcher.best_estimator_
    threshold = select_threshold(
        split.y_validation, model.predict_proba(split.x_validation)[:, 1], params.beta
    )
    test_probability = model.predict_proba(split.x_test)[:, 1]
    return TrainedModel(
        pipeline=model,
        threshold=threshold,
        evaluation=evaluate(split.y_test, test_probability, threshold.threshold, params.beta),
        effects=flavour_effects(model.predict_proba, split.x_test),
        best_params=_readable(searcher.best_params_),
        cv_best_score=float(searcher.best_score_),
        cv_results=_cv_table(searcher.cv_results_),
        split=split,
        test_probability=test_probability,
        search_seconds=seconds,
        reference=reference_visitor(split.x_train),
        targeting=targeting_table(split.y_test, test_probability, threshold.threshold),
    )


def _check_trainable(labels: np.ndarray) -> None:
    buyers = int(labels.sum())
    if len(labels) < MIN_ROWS or min(buyers, len(labels) - buyers) < MIN_PER_CLASS:
        raise JuiceError(
            f"too little data to train: {len(labels)} rows, {buyers} buyers "
            f"(need {MIN_ROWS} rows and {MIN_PER_CLASS} of each outcome)"
        )


def _readable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, str | int | float | None) else type(value).__name__
        for key, value in params.items()
    }


def _cv_table(results: dict[str, Any]) -> pl.DataFrame:
    columns = {
        "rank": results["rank_test_score"],
        "mean_score": results["mean_test_score"],
        "std_score": results["std_test_score"],
        "fit_seconds": results["mean_fit_time"],
    }
    columns["params"] = [str(_readable(p)) for p in results["params"]]
    return pl.DataFrame(columns).sort("rank")
