"""The prediction log: every scored visit kept as Parquet, for audits and the drift check."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from juice.model.matrix import MODEL_COLUMNS
from juice.schema import MODEL_VERSION, PROBABILITY, WILL_BUY
from juice.workspace import prune

PRUNE_SECONDS = 3600.0  # how often old files are looked for


class PredictionLog:
    """Keeps every scored visit: Parquet files in logs/predictions/, one per worker and flush.

    The request thread only enqueues arrays; a background thread gathers them and writes
    a file every `every_seconds` (or `max_rows`), so logging costs the hot path a queue
    put and the machine one columnar write per few seconds.
    """

    def __init__(
        self, folder: Path, every_seconds: float = 2.0, max_rows: int = 200_000,
        keep_days: float | None = None,
    ) -> None:  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.keep_days = keep_days  # files older than this are deleted, once an hour
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
        rows, last, pruned = 0, time.monotonic(), -PRUNE_SECONDS
        while True:
            if self.keep_days is not None and time.monotonic() - pruned >= PRUNE_SECONDS:
                pruned = time.monotonic()
                try:
                    prune(self.folder, self.keep_days, "*.parquet")
                except OSError:
                    logging.getLogger(__name__).exception("prediction log: could not prune")
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
            pl.Series(MODEL_VERSION, [batch[2] for batch in batches]).gather(owner),
            pl.Series(PROBABILITY, np.concatenate([batch[4] for batch in batches])),
            pl.Series(WILL_BUY, np.concatenate([batch[5] for batch in batches])),
        )
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}"
        # Written under another suffix, then renamed: a reader's `*.parquet` never takes half
        # a file (a hidden name would not do: pathlib's glob matches hidden files).
        partial = self.folder / f"{name}.partial"
        frame.write_parquet(partial)
        partial.rename(self.folder / f"{name}.parquet")
