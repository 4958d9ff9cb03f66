"""The drift loop between a check and its action: what a check tells the incident policy,
the step it takes, and a champion confirmed on a regime it handles. The training itself
is given (`Retrain`): the flow's trains through Prefect, the soak benchmark's in process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock

from juice.data.dataset import landed_exports
from juice.data.snapshots import DatasetSnapshot, snapshot_visits
from juice.locks import try_acquire
from juice.model.matrix import to_matrix
from juice.monitoring.check import DriftCheck, DriftOutcome
from juice.monitoring.incidents import (
    Incident,
    LoopState,
    Signal,
    Step,
    after_action,
    describe_step,
    next_step,
    read_state,
    write_state,
)
from juice.monitoring.window import read_window
from juice.params import Params
from juice.registry.reference import Reference, confirm
from juice.registry.store import Registry
from juice.schema import LABEL
from juice.settings import Settings


def signal_of(check: DriftCheck, last_judged: str | None) -> Signal:
    """What a check of the loop says: its verdict, and its exports the previous check of
    the loop (which judged up to `last_judged`) had not judged."""
    sources = check.window_sources
    new = sources[sources.index(last_judged) + 1 :] if last_judged in sources else sources
    visits = {record.source: record.visits for record in check.exports}
    report = check.report
    return Signal(
        drift=report.drift,
        concept_drift=report.concept_drift,
        sufficient=report.verdict != "insufficient-data",
        new_exports=list(new),
        new_visits=sum(visits.get(source, 0) for source in new),
        reason=report.reason,
    )


def regime_visits(settings: Settings, since: str) -> int:
    """The visits (lines) landed since the regime began: counted, not parsed."""
    return sum(_lines(path) for path in landed_exports(settings, since=since))


def _lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))


def confirm_on(registry: Registry, version: str, snapshot: DatasetSnapshot) -> Reference:
    """Confirms the champion `version` on a regime's data: its reference from now on, with
    the average precision it achieves there as its new promise."""
    from sklearn.metrics import average_precision_score

    visits = snapshot.read()
    visits = visits.filter(visits[LABEL].is_not_null())
    pipeline = registry.model(version)
    labels = visits[LABEL].to_numpy()
    promised = None
    if 0 < labels.sum() < len(labels):
        probability = pipeline.predict_proba(to_matrix(visits))[:, 1]
        promised = float(average_precision_score(labels, probability))
    return confirm(registry, version, snapshot.data_hash, promised)


def refresh_reference(
    settings: Settings, registry: Registry, version: str, since: str, params: Params
) -> tuple[Reference, int]:
    """Confirms the champion on the newest `reference_visits` visits of the regime (a change
    that keeps growing, which it handles); the reference and the visits it holds."""
    window = read_window(
        landed_exports(settings, since=since),
        params.build_dataset.max_seconds,
        params.drift_check.reference_visits,
    )
    snapshot = snapshot_visits(settings, window.visits)
    return confirm_on(registry, version, snapshot), window.visits.height


@dataclass(frozen=True)
class Retrained:
    """What one retraining did (the flows train; the loop decides and records)."""

    model_version: str  # the challenger
    promoted: bool  # and still the champion (not rolled back)
    dataset_rows: int  # the visits it trained on
    rolled_back: bool = False  # promoted, then restored the previous champion
    smoke_test: str | None = None  # after a promotion: what the live service showed


# (since: the new regime's first export, or None for every landed export; must improve)
Retrain = Callable[[str | None, bool], Retrained]


def check_in_loop(
    settings: Settings, check: DriftCheck, params: Params, retrain: Retrain
) -> DriftOutcome:
    """A check of the loop: the incident's next step and its action, one check at a time.
    A check that finds another at it waits for it to finish and reports its result (both
    saw the same landed data), so its answer names the champion truly in charge."""
    state_file = settings.workspace.drift_loop
    lock = FileLock(settings.workspace.lock("retrain"))
    if not try_acquire(lock):
        return _after_another(settings, check, read_state(state_file).incident)
    try:
        state = read_state(state_file)
        signal = signal_of(check, state.last_judged)
        current = state.incident
        visits = (
            regime_visits(settings, current.since) if current and current.state == "open" else 0
        )
        step = next_step(current, signal, visits, check.checked_at, params.drift_check)
        outcome = _act(settings, check, step, params, retrain)
        judged = check.window_sources[-1] if check.window_sources else state.last_judged
        write_state(state_file, LoopState(outcome.incident, judged))
        return outcome
    finally:
        lock.release()


def check_by_hand(
    settings: Settings, check: DriftCheck, retrain_on_drift: bool, retrain: Retrain
) -> DriftOutcome:
    """A check outside the loop (a file given, or a report only): it moves no incident;
    with `retrain_on_drift`, drift retrains on every landed export as a training would."""
    current = read_state(settings.workspace.drift_loop).incident
    champion = check.model_version
    if not check.report.drift or not retrain_on_drift:
        action = "drift: reported only (--no-retrain)" if check.report.drift else NO_DRIFT
        return DriftOutcome(check, False, False, champion, action, incident=current)
    lock = FileLock(settings.workspace.lock("retrain"))
    if not try_acquire(lock):
        return _after_another(settings, check, current)
    try:
        done = retrain(None, False)
    finally:
        lock.release()
    return replace(_retrained(check, done, since=None), incident=current)


NO_DRIFT = "no drift: nothing to do"


def _after_another(
    settings: Settings, check: DriftCheck, incident: Incident | None
) -> DriftOutcome:
    with FileLock(settings.workspace.lock("retrain")):  # dies with a killed holder
        now = Registry(settings).require_champion()
    verdict = "drift" if check.report.drift else "no drift"
    action = f"{verdict}: another check retrained meanwhile; champion v{now}"
    return DriftOutcome(check, False, False, now, action, incident=incident)


def _act(
    settings: Settings, check: DriftCheck, step: Step, params: Params, retrain: Retrain
) -> DriftOutcome:
    """Takes the step's action: a training on the new regime, the reference moved, or none."""
    incident, champion = step.incident, check.model_version
    if incident is None or step.action == "nothing":
        words = describe_step(step, check.report.drift, params.drift_check)
        return DriftOutcome(check, False, False, champion, words, incident=incident,
                            incident_event=step.event)  # fmt: skip
    if step.action == "refresh" or not incident.concept:  # it handles the new regime
        registry = Registry(settings)
        _, visits = refresh_reference(settings, registry, champion, incident.since, params)
        why = "the change keeps growing" if incident.settled else "it does as well there"
        words = f"champion v{champion} confirmed on the newest {visits:,} visits ({why})"
        moved = after_action(incident, step.action, retrained=False, promoted=False, words=words)
        return DriftOutcome(check, False, False, champion, words, incident=moved,
                            incident_event=step.event)  # fmt: skip
    # A champion trained in this incident is replaced unless worse (both learnt the
    # regime); an older one only by a better model
    improve = not (step.action == "settle" and incident.promotions > 0)
    outcome = _retrained(check, retrain(incident.since, improve), since=incident.since)
    moved = after_action(incident, step.action, retrained=True, promoted=outcome.promoted,
                         words=outcome.action)  # fmt: skip
    return replace(outcome, incident=moved, incident_event=step.event)


def _retrained(check: DriftCheck, done: Retrained, since: str | None) -> DriftOutcome:
    """The outcome of a retraining, in words."""
    champion = check.model_version
    on = f" on {done.dataset_rows:,} visits of the new regime" if since else ""
    challenger = f"v{done.model_version}"
    if done.rolled_back:
        action = f"retrained{on}: {challenger} promoted, then rolled back to v{champion}"
        return DriftOutcome(check, True, False, champion, action, done.smoke_test)
    if not done.promoted:
        action = f"retrained{on}: {challenger} kept out by the gate"
        return DriftOutcome(check, True, False, champion, action)
    action = f"retrained{on}: {challenger} promoted"
    return DriftOutcome(check, True, True, done.model_version, action, done.smoke_test)
