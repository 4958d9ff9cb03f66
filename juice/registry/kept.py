"""The champion kept beside the workspace's own store, for commands that only score.

Opening the store costs seconds (MLflow's import and its database's set-up); a small
file scored offline should cost the model and nothing else. The copy is keyed by the
store's stamp (its file's size and time), read before the champion is: any write to the
store (a promotion, a run) makes the next command ask MLflow again. Behind a tracking
server there is no stamp, and every command asks.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from juice.model.card import ModelCard
from juice.model.linear import Scorer, linear_form, scorer
from juice.registry.store import Registry, store_stamp
from juice.settings import Settings


def kept_champion(settings: Settings) -> tuple[Scorer, ModelCard]:
    """The champion's scorer and card, from the kept copy while the store is unchanged.

    The copy holds the model's arithmetic (a `LinearForm`, numpy alone) for every shape
    the grid can pick, so scoring imports neither MLflow nor scikit-learn."""
    stamp = store_stamp(settings)
    path = settings.workspace.kept_champion
    if stamp is not None and path.exists():
        with path.open("rb") as stream:
            # Written by this workspace, as MLflow's own pickle is: the stamp first, so a
            # stale copy costs no unpickling of the model.
            if pickle.load(stream) == stamp:
                model, card = pickle.load(stream)
                return scorer(model), ModelCard.from_json(card)
    pipeline, card = Registry(settings).load()
    model = linear_form(pipeline) or pipeline
    if stamp is not None:
        _keep(path, stamp, model, card)
    return scorer(model), card


def _keep(path: Path, stamp: tuple[int, ...], model: Any, card: ModelCard) -> None:
    """Writes the copy whole, then swaps it in: a reader sees the old copy or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        pickle.dump(stamp, out)
        pickle.dump((model, card.to_json()), out)
    os.replace(out.name, path)
