"""Drift handled as incidents: a sustained change is one incident, found, acted on, and
then quiet while the new regime persists.

The loop's checks (the landed exports, retraining allowed) move one incident at a time:

- **open**: a check finds drift while none is open. The new regime starts with the
  exports this check saw first (those the previous check had not judged).
- **fix**: when the champion does worse on the regime's labels (concept drift), a
  challenger is trained on the regime as soon as it holds `retrain_visits` visits; it
  is promoted only if better than the champion (the gate's improvement rule).
- **settle**: a champion that handles the new regime (who visits changed, not what
  makes them buy) is not trained against at all: once the regime holds
  `confirm_visits` visits it is *confirmed* on them, the reference later checks compare
  against. A champion that did worse is trained against once more when the regime
  holds `settle_visits` visits, as many as a champion should learn from (the second and
  last training): the challenger replaces a fix unless worse (both learnt the regime),
  an older champion only if better. Either way the change stops alarming.
- **refresh**: once settled, a check that still finds a change the champion handles (a
  shift still growing) confirms it on the newest `reference_visits` visits.
- **close**: once settled, `close_after` stable checks in a row close it: a pause in a
  change still growing does not close it.

The policy is `next_step`, a pure function; the state is one JSON file in the workspace,
and every check's report carries the incident it moved.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from juice.params import DriftParams

State = Literal["open", "closed"]
Event = Literal["opened", "ongoing", "closed", "none"]
Action = Literal["fix", "settle", "refresh", "nothing"]


@dataclass(frozen=True)
class Incident:
    """One sustained change: when it was found, where its regime starts, what was done."""

    number: int
    state: State
    opened_at: str
    since: str  # the first export of the new regime
    trigger: str  # what found it, in words
    retrains: int = 0
    promotions: int = 0
    concept: bool = False  # the champion did worse on the regime's labels at some point
    settled: bool = False  # the settling step was taken
    stable_checks: int = 0  # stable checks in a row since it settled
    closed_at: str | None = None
    actions: list[str] = field(default_factory=list)  # what was done, in words, in order

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        return cls(**data)


@dataclass(frozen=True)
class Signal:
    """What one check says, as the incident policy reads it."""

    drift: bool
    concept_drift: bool
    sufficient: bool  # a verdict at all (not insufficient-data)
    new_exports: list[str]  # the window's exports the previous check had not judged
    new_visits: int  # the visits they hold
    reason: str  # the verdict in words, for an incident it opens


@dataclass(frozen=True)
class Step:
    """What the loop does after a check: the incident after it, and the action to take."""

    incident: Incident | None
    event: Event
    action: Action


def next_step(
    incident: Incident | None, signal: Signal, regime_visits: int, now: str, params: DriftParams
) -> Step:
    """The incident's next state and the action due, after a check of the loop.

    Args:
        incident: the current or last incident (None: there never was one).
        signal: what the check found.
        regime_visits: visits landed since the open incident's regime began (0 if none).
        now: the check's time (ISO 8601), for an incident opened or closed now.
        params: the thresholds of the policy.
    """
    if incident is None or incident.state == "closed":
        if not (signal.drift and signal.new_exports):
            return Step(incident, "none", "nothing")
        opened = Incident(
            number=(incident.number + 1) if incident else 1,
            state="open",
            opened_at=now,
            since=signal.new_exports[0],
            trigger=signal.reason,
            concept=signal.concept_drift,
        )
        return Step(opened, "opened", _action(opened, signal, signal.new_visits, params))
    if not signal.sufficient:
        return Step(incident, "ongoing", "nothing")
    if incident.settled and not signal.drift:
        stable = incident.stable_checks + 1
        if stable >= params.close_after:
            closed = replace(incident, state="closed", closed_at=now, stable_checks=stable)
            return Step(closed, "closed", "nothing")
        return Step(replace(incident, stable_checks=stable), "ongoing", "nothing")
    ongoing = replace(incident, stable_checks=0) if signal.drift else incident
    if signal.concept_drift and not incident.settled:
        ongoing = replace(ongoing, concept=True)
    return Step(ongoing, "ongoing", _action(ongoing, signal, regime_visits, params))


def _action(incident: Incident, signal: Signal, regime_visits: int, params: DriftParams) -> Action:
    if incident.settled:
        return "refresh" if signal.drift and not signal.concept_drift else "nothing"
    if regime_visits >= settling_visits(incident, params):
        return "settle"
    if signal.concept_drift and incident.retrains == 0 and regime_visits >= params.retrain_visits:
        return "fix"
    return "nothing"


def settling_visits(incident: Incident, params: DriftParams) -> int:
    """The regime's visits at which the incident settles: a champion that did worse
    learns the regime from as many visits as a champion should; one that handles it is
    confirmed sooner."""
    return params.settle_visits if incident.concept else params.confirm_visits


def describe_step(step: Step, drift: bool, params: DriftParams) -> str:
    """What a check that takes no action did, in words."""
    incident = step.incident
    if incident is None or step.event == "none":
        return "drift: no new export to act on" if drift else "no drift: nothing to do"
    name = f"incident #{incident.number}"
    settles = f"{settling_visits(incident, params):,} visits of the new regime"
    if step.event == "opened":
        return f"drift: {name} opened; it settles at {settles}"
    if step.event == "closed":
        return f"{name} closed after {incident.stable_checks} stable checks"
    if not incident.settled:
        return f"{name} open: waiting for {settles}"
    if drift:
        return f"{name} open: the champion still does worse, with no training left to it"
    return f"{name} open: stable check {incident.stable_checks} of {params.close_after}"


def incident_line(incident: Incident, event: str) -> str:
    """The incident in one line, for people: its state, since when, what was done."""
    state = "open" if incident.state == "open" else f"closed at {incident.closed_at}"
    done = ""
    if incident.actions:
        done = f"; {len(incident.actions)} action(s), the last: {incident.actions[-1]}"
    moved = "" if event == "none" else f" ({event} by this check)"
    return (
        f"incident #{incident.number}{moved}: {state}, opened at {incident.opened_at}, "
        f"regime since {incident.since}; {incident.retrains} training(s), "
        f"{incident.promotions} promotion(s){done}"
    )


def after_action(
    incident: Incident, action: Action, *, retrained: bool, promoted: bool, words: str
) -> Incident:
    """The incident once `action` was taken: its trainings and promotions counted, what
    was done said."""
    return replace(
        incident,
        retrains=incident.retrains + retrained,
        promotions=incident.promotions + promoted,
        settled=incident.settled or action == "settle",
        actions=[*incident.actions, words],
    )


@dataclass(frozen=True)
class LoopState:
    """What the loop keeps between checks: the current or last incident, and the newest
    export its last check judged (the next check's new exports come after it)."""

    incident: Incident | None = None
    last_judged: str | None = None


def read_state(path: Path) -> LoopState:
    """The loop's state kept at `path` (empty before the first check of the loop)."""
    if not path.exists():
        return LoopState()
    kept = json.loads(path.read_text())
    incident = kept.get("incident")
    return LoopState(Incident.from_dict(incident) if incident else None, kept.get("last_judged"))


def write_state(path: Path, state: LoopState) -> None:
    """Keeps the loop's state, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {"incident": state.incident.to_dict() if state.incident else None,
            "last_judged": state.last_judged}  # fmt: skip
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(kept, indent=2) + "\n")
    partial.replace(path)
