"""The champion's record kept true through crashes and hands outside juice.

A promotion writes its intent on the registered model first, then moves the alias, then
completes: the version's tags, the promotion log's line, the registered model's record
of the champion, the intent removed. Whatever step a killed process stopped at, the
next writer under the registry's lock finds the intent and finishes it (the alias moved)
or drops it (the alias did not). An alias whose version is not the recorded champion and
has no intent was moved outside juice (the MLflow UI or its REST API): it is served, as a
data scientist's rollback by hand must be, and the next writer logs it as such. Both
the service and `juice models` say so meanwhile, from the tracking server alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from juice.registry import tags
from juice.registry.history import Promotion, record_promotion
from juice.registry.store import CHAMPION, Registry

OUTSIDE_REASON = (
    "the champion alias was moved outside juice (the MLflow UI or its API): no gate judged it"
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def begin(registry: Registry, promotion: Promotion) -> None:
    """Writes the intent: from here a crash is finished or dropped, never half-kept."""
    registry.client.set_registered_model_tag(
        registry.name, tags.PROMOTION_INTENT, json.dumps(asdict(promotion))
    )


def complete(registry: Registry, promotion: Promotion) -> None:
    """Everything a promotion keeps once its alias moved; safe to repeat."""
    client, name, version = registry.client, registry.name, promotion.champion
    client.set_model_version_tag(name, version, tags.PROMOTED_AT, promotion.at)
    client.set_model_version_tag(name, version, tags.PROMOTED_BY, promotion.by)
    client.set_model_version_tag(name, version, tags.PROMOTION_REASON, promotion.reason)
    record_promotion(registry.settings.workspace.registry_log, promotion)
    client.set_registered_model_tag(name, tags.CHAMPION_RECORD, json.dumps(asdict(promotion)))
    client.delete_registered_model_tag(name, tags.PROMOTION_INTENT)


def reconcile(registry: Registry) -> Promotion | None:
    """Finishes a promotion a crash interrupted, or records an alias moved outside juice;
    what it recorded (None: the record was true). Under the registry's lock."""
    with registry.locked():
        return _reconcile(registry)


def _reconcile(registry: Registry) -> Promotion | None:
    alias, model_tags = _champion_and_tags(registry)
    intent = _promotion(model_tags.get(tags.PROMOTION_INTENT))
    if intent is not None:
        if intent.champion == alias:
            complete(registry, intent)
            return intent
        registry.client.delete_registered_model_tag(registry.name, tags.PROMOTION_INTENT)
    recorded = _promotion(model_tags.get(tags.CHAMPION_RECORD))
    if alias is None or (recorded is not None and recorded.champion == alias):
        return None
    if recorded is None and (adopted := _from_version_tags(registry, alias)):
        registry.client.set_registered_model_tag(  # a store from before the record
            registry.name, tags.CHAMPION_RECORD, json.dumps(asdict(adopted))
        )
        return None
    outside = Promotion(at=now(), model=registry.name, champion=alias,
                        previous=recorded.champion if recorded else None, by=tags.OUTSIDE,
                        reason=OUTSIDE_REASON)  # fmt: skip
    complete(registry, outside)
    return outside


def champion_promotion(registry: Registry) -> Promotion | None:
    """How the alias's version became the champion, as the tracking server tells it (read
    only, in one question: the service's view); None without a champion. The recorded
    promotion, the one under way, or one made outside juice that no writer logged yet."""
    version, model_tags = _champion_and_tags(registry)
    if version is None:
        return None
    for key in (tags.CHAMPION_RECORD, tags.PROMOTION_INTENT):
        promotion = _promotion(model_tags.get(key))
        if promotion is not None and promotion.champion == version:
            return promotion
    if tags.CHAMPION_RECORD not in model_tags and (
        earlier := _from_version_tags(registry, version)
    ):
        return earlier  # a store from before the record
    return Promotion(at="", model=registry.name, champion=version, previous=None,
                     by=tags.OUTSIDE, reason=OUTSIDE_REASON)  # fmt: skip


def _champion_and_tags(registry: Registry) -> tuple[str | None, dict[str, str]]:
    """The alias's version and the registered model's tags, in one question."""
    from mlflow.exceptions import MlflowException

    try:
        model = registry.client.get_registered_model(registry.name)
    except MlflowException:
        return None, {}
    alias = model.aliases.get(CHAMPION)
    return (str(alias) if alias is not None else None), dict(model.tags or {})


def _promotion(text: str | None) -> Promotion | None:
    if not text:
        return None
    try:
        fields: dict[str, Any] = json.loads(text)
        return Promotion(**fields)
    except (ValueError, TypeError):  # not ours, or damaged by hand: as if absent
        return None


def _from_version_tags(registry: Registry, version: str) -> Promotion | None:
    """The promotion a version's tags tell (a store from before the record); None when
    juice never promoted it."""
    version_tags = registry.model_version(version).tags
    if tags.PROMOTED_AT not in version_tags:
        return None
    return Promotion(at=version_tags[tags.PROMOTED_AT], model=registry.name, champion=version,
                     previous=None, by=version_tags.get(tags.PROMOTED_BY, ""),
                     reason=version_tags.get(tags.PROMOTION_REASON, ""))  # fmt: skip
