"""The store's answers remembered (a memo) beside it while it is unchanged: what commands read.

Opening the store costs seconds (MLflow's import and its database's set-up); listing
the versions or scoring a small file offline should not. Each answer is kept with the
store's stamp (its file's size and time), read before the store is: any write to the
store (a promotion, a run) makes the next command ask MLflow again. Behind a tracking
server there is no stamp, and every command asks.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from juice.model.card import ModelCard
from juice.model.linear import linear_form
from juice.model.served import ServedModel
from juice.registry.listing import VersionSummary, list_versions
from juice.registry.reconcile import reconcile
from juice.registry.store import Registry, store_stamp
from juice.settings import Settings

T = TypeVar("T")


def champion(settings: Settings) -> ServedModel:
    """The champion, ready to score. The copy holds the model's arithmetic (a
    `LinearForm`, numpy alone) for every shape the grid can pick, so scoring from it
    imports neither MLflow nor scikit-learn."""

    def load() -> tuple[Any, str]:
        pipeline, card = Registry(settings).load()
        return linear_form(pipeline) or pipeline, card.to_json()

    model, card = _remembered(settings.workspace.memo("champion"), settings, load)
    return ServedModel(model, ModelCard.from_json(card))


def versions(settings: Settings) -> list[VersionSummary]:
    """Every registered version, newest first (`listing.list_versions`)."""

    def ask() -> list[VersionSummary]:
        registry = Registry(settings)
        reconcile(registry)  # the store changed: a crash or a hand may have moved the champion
        return list_versions(registry)

    return _remembered(settings.workspace.memo("versions"), settings, ask)


def _remembered(path: Path, settings: Settings, ask: Callable[[], T]) -> T:
    stamp = store_stamp(settings)
    if stamp is not None and path.exists():
        with path.open("rb") as stream:
            # Written by this workspace, as MLflow's own pickles are: the stamp first, so
            # a stale copy costs no unpickling of the rest.
            if pickle.load(stream) == stamp:
                remembered: T = pickle.load(stream)
                return remembered
    answer = ask()
    if stamp is not None:
        _remember(path, stamp, answer)
    return answer


def _remember(path: Path, stamp: tuple[int, ...], answer: Any) -> None:
    """Writes the copy whole, then swaps it in: a reader sees the old copy or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        pickle.dump(stamp, out)
        pickle.dump(answer, out)
    os.replace(out.name, path)
