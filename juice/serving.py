"""Serving without the framework: the champion in memory, swapped when the registry moves,
and a prediction log the drift check can read."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from juice.features import MODEL_COLUMNS
from juice.registry import ModelCard, Registry, RegistryError


@dataclass(frozen=True)
class ServedModel:
    """A loaded version: its pipeline and its card (threshold, metrics, effects)."""

    pipeline: Any
    card: ModelCard
    # model matrix -> purchase probability, the pipeline's fast path
    probabilities: Callable[[np.ndarray], np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", linear_scorer(self.pipeline))


def linear_scorer(pipeline: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The pipeline's purchase probability as plain numpy, for the hot path.

    sklearn's `predict_proba` spends about 0.5 ms validating a 1-row input; our
    features, a standard scaler and a logistic regression are a few array operations.
    Any other pipeline shape keeps sklearn's own `predict_proba`.
    """
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from juice.features import VisitFeatures

    steps = dict(pipeline.steps)
    features, scale, model = steps.get("features"), steps.get("scale"), steps.get("model")
    if not (
        isinstance(features, VisitFeatures)
        and (scale == "passthrough" or isinstance(scale, StandardScaler))
        and isinstance(model, LogisticRegression)
        and len(pipeline.steps) == 3
        and model.coef_.shape[0] == 1
    ):
        return lambda matrix: pipeline.predict_proba(matrix)[:, 1]
    coef, intercept = model.coef_[0], float(model.intercept_[0])
    if isinstance(scale, StandardScaler):  # fold the scaling into the coefficients' inputs
        mean = scale.mean_ if scale.with_mean else 0.0
        width = scale.scale_ if scale.with_std else 1.0
    else:
        mean, width = 0.0, 1.0

    def probabilities(matrix: np.ndarray) -> np.ndarray:
        return expit(((features.transform(matrix) - mean) / width) @ coef + intercept)

    return probabilities


class Champion:
    """The serving model; `refresh` swaps in a newly promoted champion without a restart.

    Requests read `current` once and use that model to the end, so a swap never mixes
    two models in one answer and never drops a request. Without a registry (a bento's
    own packed model) the model never changes.
    """

    def __init__(self, registry: Registry | None, model: ServedModel | None = None) -> None:
        self._registry = registry
        self._current = model
        self._lock = threading.Lock()

    @property
    def current(self) -> ServedModel:
        served = self._current
        if served is None:
            raise RegistryError("no champion model yet: run `juice train` first")
        return served

    @property
    def ready(self) -> bool:
        return self._current is not None

    def refresh(self) -> bool:
        """Loads the champion if it changed; True if the served model changed."""
        if self._registry is None:
            return False
        with self._lock:
            version = self._registry.champion_version()
            if version is None or (self._current and self._current.card.version == version):
                return False
            pipeline, card = self._registry.load(version)
            self._current = ServedModel(pipeline, card)
            return True

    def watch(self, every_seconds: float, on_change: Any = None) -> threading.Thread:
        """Polls the registry in a daemon thread; calls `on_change(model)` after a swap."""

        def loop() -> None:
            while True:
                try:
                    if self.refresh() and on_change is not None:
                        on_change(self.current)
                except Exception:  # a registry hiccup must not stop serving; it is logged
                    logging.getLogger(__name__).exception("could not check for a new champion")
                time.sleep(every_seconds)

        thread = threading.Thread(target=loop, name="champion-watch", daemon=True)
        thread.start()
        return thread


class PredictionLog:
    """Keeps every scored visit: Parquet files in logs/predictions/, one per worker and flush.

    The request thread only enqueues arrays; a background thread gathers them and writes
    a file every `every_seconds` (or `max_rows`), so logging costs the hot path a queue
    put and the machine one columnar write per few seconds.
    """

    def __init__(self, folder: Path, every_seconds: float = 2.0, max_rows: int = 200_000) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.every_seconds = every_seconds
        self.max_rows = max_rows
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        threading.Thread(target=self._write, name="prediction-log", daemon=True).start()

    def record(
        self, matrix: np.ndarray, probability: np.ndarray, decision: np.ndarray, version: str
    ) -> str:
        """Queues the visits of one call; returns the request id they share."""
        request_id = uuid.uuid4().hex
        self._queue.put((datetime.now(UTC), request_id, version, matrix, probability, decision))
        return request_id

    def _write(self) -> None:
        pending: list[tuple[Any, ...]] = []
        rows, last = 0, time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=self.every_seconds)
                pending.append(item)
                rows += len(item[3])
            except queue.Empty:
                pass
            due = time.monotonic() - last >= self.every_seconds or rows >= self.max_rows
            if pending and due:
                try:
                    self._flush(pending)
                except Exception:  # a full disk must not stop serving; say so and go on
                    logging.getLogger(__name__).exception("prediction log: could not write")
                pending, rows = [], 0
            if due:
                last = time.monotonic()

    def _flush(self, batches: list[tuple[Any, ...]]) -> None:
        import polars as pl

        # Each call's time, request id and version, repeated over its visits.
        owner = np.repeat(np.arange(len(batches)), [len(batch[3]) for batch in batches])
        frame = pl.DataFrame(
            np.concatenate([batch[3] for batch in batches]).astype(np.int32),
            schema=list(MODEL_COLUMNS),
        ).with_columns(
            pl.Series("time", [batch[0] for batch in batches]).gather(owner),
            pl.Series("request_id", [batch[1] for batch in batches]).gather(owner),
            pl.Series("model_version", [batch[2] for batch in batches]).gather(owner),
            pl.Series("probability", np.concatenate([batch[4] for batch in batches])),
            pl.Series("will_buy", np.concatenate([batch[5] for batch in batches])),
        )
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}.parquet"
        frame.write_parquet(self.folder / f".{name}")
        (self.folder / f".{name}").rename(self.folder / name)  # readers never see half a file
