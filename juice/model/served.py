"""A model ready to serve: its arithmetic and its card, with its verbs (score, decide, explain)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from juice.model.card import ModelCard
from juice.model.decision import Probability, decide
from juice.model.explanation import DEFAULT_REFERENCE, Explainer, Reference
from juice.model.linear import Scorer, linear_scorer


@dataclass(frozen=True)
class ServedModel:
    """A loaded version: its model (a `LinearForm`, or any fitted pipeline) and its card
    (threshold, metrics, effects)."""

    model: Any
    card: ModelCard
    # model matrix -> purchase probability, the model's fast path
    probabilities: Scorer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", linear_scorer(self.model))
        if self.card.reference is None:  # an older card: say which reference explains it
            reference = DEFAULT_REFERENCE.to_dict()
            object.__setattr__(self, "card", replace(self.card, reference=reference))

    @property
    def threshold(self) -> float:
        return self.card.threshold

    @property
    def version(self) -> str:
        return self.card.version

    def decide(self, probability: Probability) -> Probability:
        """The decision at this model's threshold (`decide`)."""
        return decide(probability, self.card.threshold)

    def score(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Purchase probability and decision for each row of the model matrix."""
        probability = self.probabilities(matrix)
        return probability, self.decide(probability)

    @cached_property
    def explainer(self) -> Explainer:
        """Exact per-field contributions, relative to the card's reference visitor."""
        return Explainer(self.model, Reference(**(self.card.reference or {})))
