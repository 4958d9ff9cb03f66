"""Serving without the framework: the champion in memory, swapped when the registry moves,
and a prediction log the drift check can read."""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from juice.features import MODEL_COLUMNS
from juice.registry import ModelCard, Registry, RegistryError
from juice.settings import Settings


@dataclass(frozen=True)
class ServedModel:
    """A loaded version: its pipeline and its card (threshold, metrics, effects)."""

    pipeline: Any
    card: ModelCard

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(matrix)[:, 1]


class Champion:
    """The serving model; `refresh` swaps in a newly promoted champion without a restart.

    Requests read `current` once and use that model to the end, so a swap never mixes
    two models in one answer and never drops a request.
    """

    def __init__(self, settings: Settings) -> None:
        self._registry = Registry(settings)
        self._current: ServedModel | None = None
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
                except Exception:  # noqa: BLE001 - a registry hiccup must not stop serving
                    pass
                time.sleep(every_seconds)

        thread = threading.Thread(target=loop, name="champion-watch", daemon=True)
        thread.start()
        return thread


class PredictionLog:
    """Appends each scored visit as a CSV row to logs/predictions/<pid>.csv.

    The request thread only enqueues arrays; a background thread formats and writes
    them with polars, so logging costs the hot path a queue put.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{os.getpid()}.csv"
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        threading.Thread(target=self._write, name="prediction-log", daemon=True).start()

    def record(
        self, matrix: np.ndarray, probability: np.ndarray, decision: np.ndarray, version: str
    ) -> str:
        """Queues the visits of one call; returns the request id they share."""
        request_id = uuid.uuid4().hex
        self._queue.put((datetime.now(UTC), request_id, version, matrix, probability, decision))
        return request_id

    def flush(self) -> None:
        """Waits until everything queued so far is on disk."""
        self._queue.join()

    def _write(self) -> None:
        import polars as pl

        while True:
            when, request_id, version, matrix, probability, decision = self._queue.get()
            try:
                rows = pl.DataFrame(matrix, schema=list(MODEL_COLUMNS)).with_columns(
                    pl.lit(when).alias("time"),
                    pl.lit(request_id).alias("request_id"),
                    pl.lit(version).alias("model_version"),
                    pl.Series("probability", probability),
                    pl.Series("will_buy", decision),
                )
                header = not self.path.exists()
                with self.path.open("ab") as out:
                    rows.write_csv(out, include_header=header)
            finally:
                self._queue.task_done()
