"""The champion in memory, scored with plain numpy, swapped when the registry moves."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from juice.model.served import ServedModel
from juice.monitoring.record import ChampionRecord
from juice.monitoring.standing import champion_record
from juice.registry.history import Promotion
from juice.registry.reconcile import champion_promotion
from juice.registry.store import NO_CHAMPION, Registry, RegistryError

STANDING_SECONDS = 30.0  # how long the champion's standing is taken as read


class Champion:
    """The serving model; `refresh` swaps in a newly promoted champion without a restart.

    Requests read `current` once and use that model to the end, so a swap never mixes
    two models in one answer and never drops a request. Without a registry (a bento's
    own packed model) the model never changes.
    """

    def __init__(self, registry: Registry | None, model: ServedModel | None = None) -> None:
        self._registry = registry
        self._current = model
        self._stamp: tuple[int, ...] | None = None
        self._lock = threading.Lock()
        self._standing: tuple[float, ChampionRecord] | None = None
        self._promotion: Promotion | None = None

    @property
    def current(self) -> ServedModel:
        served = self._current
        if served is None:
            raise RegistryError(NO_CHAMPION)
        return served

    @property
    def promotion(self) -> Promotion | None:
        """How the served champion became one, as the registry tells it (None: a bento's
        packed model): by the gate, a command, a rollback, or outside juice."""
        return self._promotion

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def registry(self) -> Registry | None:
        """The registry followed (None: a bento's packed model)."""
        return self._registry

    def standing(self, prediction_log: Path) -> ChampionRecord:
        """The serving champion's record, incidents and changes, read again at most every
        STANDING_SECONDS (it asks the tracking server: a query holds a worker's GIL)."""
        model = self.current
        now = time.monotonic()
        kept = self._standing
        if kept is None or now - kept[0] > STANDING_SECONDS or kept[1].version != model.version:
            kept = (now, champion_record(self._registry, model.card, prediction_log))
            self._standing = kept
        return kept[1]

    def refresh(self) -> bool:
        """Loads the champion if it changed; True if the served model changed."""
        if self._registry is None:
            return False
        with self._lock:
            stamp = self._registry.stamp()
            if stamp is not None and stamp == self._stamp:
                return False  # the store was not written since the last look
            promotion = champion_promotion(self._registry)  # the alias and its record
            version = promotion.champion if promotion else None
            changed = version is not None and not (
                self._current and self._current.card.version == version
            )
            if changed:
                pipeline, card = self._registry.load(version)
                self._current = ServedModel(pipeline, card)
            self._promotion = promotion  # a record can change without the alias moving
            self._stamp = stamp  # only once looked at in full: a failed load is retried
            return changed

    def look(self, on_change: Any = None) -> None:
        """One look at the registry: `on_change(model)` after a swap. A registry that does not
        answer (a hiccup, or not started yet) is logged, never raised: serving goes on."""
        try:
            if self.refresh() and on_change is not None:
                on_change(self.current)
        except Exception:
            logging.getLogger(__name__).exception("could not check for a new champion")

    def watch(self, every_seconds: float, on_change: Any = None) -> threading.Thread:
        """Polls the registry in a daemon thread: `look` every `every_seconds`, the first
        after that wait (the caller has just looked)."""

        def loop() -> None:
            while True:
                time.sleep(every_seconds)
                self.look(on_change)

        thread = threading.Thread(target=loop, name="champion-watch", daemon=True)
        thread.start()
        return thread
