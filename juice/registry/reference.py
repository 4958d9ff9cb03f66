"""What a champion is judged against: the data it was trained on, or the data of a new
regime it was confirmed on (a challenger trained on that data did not beat it, or the
change it handles kept growing). Kept as tags on its version, so every reader of the
registry (a check in any container) sees the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from juice.errors import JuiceError
from juice.model.card import ModelCard
from juice.registry import tags
from juice.registry.store import Registry


@dataclass(frozen=True)
class Reference:
    """The data a drift check compares with, and the champion's figure on it."""

    data_hash: str
    average_precision: float | None  # what the champion promised on it
    confirmed_at: str | None = None  # None: its own training data


def reference_of(registry: Registry, card: ModelCard) -> Reference:
    """The champion's reference: where it was last confirmed, else its training data."""
    found = registry.model_version(card.version).tags or {}
    if tags.REFERENCE in found:
        promised = found.get(tags.REFERENCE_AVERAGE_PRECISION)
        return Reference(
            found[tags.REFERENCE],
            float(promised) if promised is not None else None,
            found.get(tags.CONFIRMED_AT),
        )
    if not card.data_hash:
        raise JuiceError(
            f"champion v{card.version} does not record the data it was trained on "
            "(it predates data hashes): retrain it with `juice train`"
        )
    return Reference(card.data_hash, card.metrics.get("average_precision"))


def confirm(
    registry: Registry, version: str, data_hash: str, average_precision: float | None
) -> Reference:
    """Makes `data_hash` the version's reference, with its figure on that data."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    values = {tags.REFERENCE: data_hash, tags.CONFIRMED_AT: when}
    if average_precision is not None:
        values[tags.REFERENCE_AVERAGE_PRECISION] = repr(average_precision)
    for key, value in values.items():
        registry.client.set_model_version_tag(registry.name, version, key, value)
    return Reference(data_hash, average_precision, when)
