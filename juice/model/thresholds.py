"""Decision thresholds: the cut-off on probability that maximises F-beta."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    fbeta: float
    precision: float
    recall: float
    beta: float


def fbeta(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    """F-beta from precision and recall; 0 where both are 0."""
    b2 = beta**2
    denominator = b2 * precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (1 + b2) * precision * recall / denominator
    return np.where(denominator > 0, score, 0.0)


def select_threshold(y_true: np.ndarray, probability: np.ndarray, beta: float) -> ThresholdChoice:
    """The threshold (predict positive when probability >= it) with the best F-beta.

    Every distinct score is a candidate, so the choice is exact for the data given.
    Ties go to the higher threshold: fewer, surer targets.
    """
    from sklearn.metrics import precision_recall_curve  # here: `juice models` needs none

    y_true = np.asarray(y_true, dtype=bool)
    if y_true.all() or not y_true.any():
        raise ValueError("choosing a threshold needs both buyers and non-buyers")
    precision, recall, thresholds = precision_recall_curve(y_true, probability)
    scores = fbeta(precision[:-1], recall[:-1], beta)
    best = len(scores) - 1 - int(np.argmax(scores[::-1]))
    return ThresholdChoice(
        threshold=float(thresholds[best]),
        fbeta=float(scores[best]),
        precision=float(precision[best]),
        recall=float(recall[best]),
        beta=beta,
    )
