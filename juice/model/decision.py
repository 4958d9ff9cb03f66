"""The decision rule, in one place: a visitor is targeted ("will buy") when their
probability reaches the threshold."""

from __future__ import annotations

from typing import TypeVar

Probability = TypeVar("Probability")  # a numpy array, or a polars expression of a column


def decide(probability: Probability, threshold: float) -> Probability:
    """Targeted or not, for each probability: the same comparison serves numpy arrays and
    polars expressions, so the service, the batch scorer and the evaluation agree."""
    return probability >= threshold  # type: ignore[operator,return-value]
