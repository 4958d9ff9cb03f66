"""Which version serves: the gate's verdict kept on a challenger, the champion alias moved
(only to a complete version, under the registry's lock, its intent written first), every
move in the history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from juice.params import GateParams
from juice.registry import tags
from juice.registry.gate import GateDecision, judge
from juice.registry.history import Promotion
from juice.registry.reconcile import begin, complete, now, reconcile
from juice.registry.runs import RUN_ARTIFACTS
from juice.registry.store import CHAMPION, Registry, RegistryError, parse_version

if TYPE_CHECKING:  # only its attributes are used: importing it would import scikit-learn
    from juice.model.training import TrainedModel


def challenge(
    trained: TrainedModel, params: GateParams, registry: Registry, *, improve: bool = False
) -> tuple[GateDecision, str | None]:
    """Judges a trained challenger against the registry's champion (or the prior, when
    there is none) on the challenger's test rows; returns the decision and the champion
    version it was judged against. With `improve`, only a better challenger passes."""
    champion = registry.champion_version()
    incumbent = None
    if champion is not None:
        incumbent = registry.model(champion).predict_proba(trained.split.x_test)[:, 1]
    decision = judge(
        trained.split.y_test, trained.test_probability, incumbent, params,
        f"champion v{champion}", improve=improve,
    )  # fmt: skip
    return decision, champion


def record_decision(registry: Registry, version: str, decision: GateDecision) -> None:
    """Keeps the gate's verdict on the version, promoted or not."""
    status = tags.PROMOTED if decision.promote else tags.REJECTED
    registry.client.set_model_version_tag(registry.name, version, tags.GATE, status)
    registry.client.set_model_version_tag(registry.name, version, tags.GATE_REASON, decision.reason)


def promote(registry: Registry, version: str, reason: str, actor: str = "gate") -> Promotion | None:
    """Makes a complete `version` the champion and records what it replaced; None when
    it already is the champion (nothing to do, nothing recorded). Callers that judged
    it against the champion hold `registry.locked()` from judging to here."""
    version = parse_version(version)
    with registry.locked():
        reconcile(registry)  # the record true first, whatever a crash or a hand left
        previous = registry.champion_version()
        if previous == version:
            return None
        _require_complete(registry, version)
        promotion = Promotion(at=now(), model=registry.name, champion=version, previous=previous,
                              by=actor, reason=reason)  # fmt: skip
        begin(registry, promotion)
        registry.client.set_registered_model_alias(registry.name, CHAMPION, version)
        complete(registry, promotion)
    return promotion


def roll_back(
    registry: Registry, failed: str, to: str, reason: str, actor: str
) -> Promotion | None:
    """Makes `to` the champion again if `failed` still is; None if a later promotion
    replaced it meanwhile (that one stands)."""
    with registry.locked():
        if registry.champion_version() != parse_version(failed):
            return None
        return promote(registry, to, reason, actor)


def _require_complete(registry: Registry, version: str) -> None:
    """Refuses a version that could not serve: one whose training did not finish, or
    whose model, card or artifacts are missing or unreadable."""
    item = registry.model_version(version)
    run = registry.client.get_run(item.run_id)
    logged = {artifact.path for artifact in registry.client.list_artifacts(item.run_id)}
    missing = [name for name in RUN_ARTIFACTS if name not in logged]
    if item.status != "READY" or run.info.status != "FINISHED":
        problem = f"its training did not finish (run {run.info.status.lower()})"
    elif missing:
        problem = f"missing {', '.join(missing)}"
    else:
        try:
            _, card = registry.load(version)
        except Exception as error:  # whatever is missing or broken, it cannot serve
            problem = f"its model cannot be loaded ({type(error).__name__}: {error})"
        else:
            problem = "" if card.version == version else f"its card is v{card.version}'s"
    if problem:
        raise RegistryError(f"v{version} is incomplete, so it cannot be promoted: {problem}")
