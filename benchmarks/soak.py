"""Soak benchmark: a simulated month of hourly exports through the real drift loop.

Every simulated hour (no sleeping) an export of that hour's world lands in a workspace
(`juice.data.ingest`, as `juice ingest`), and the loop's drift check runs with the
functions the `drift-check` flow calls: `check_drift`, then `check_in_loop` (the incident
policy, the reference confirmed, the record), its trainings done in process as the
`build-dataset` and `train` flows do them (parse, validate and publish the regime's
exports; GridSearchCV; MLflow run; the gate; promotion). A champion is first trained on
20,000 stable visits. The scenario, in hours from the start:

    0    stable
    168  a campaign starts (mango, lime, coconut ads watched far more) and stays
    264  visitors grow older, gradually over three days (done at 336)
    408  what makes people buy changes (concept: only the labels show it)
    552  the campaign ends

Printed per change: hours to detect it (the gradual shift from when the mean age has
moved 2 years), trainings and promotions (and any from its sixth hour on), alerts sent,
and the champion's quality once settled against the best possible (the simulator's true
probabilities): ROC AUC gap and precision at the champion's threshold; for the stable
stretches, false alarms (incidents opened) and the precision the champion expected of
the visitors it targeted against the precision it realised.

`--policy before` replays the loop as it was before incidents: the previous thresholds,
every export since the champion's training data judged at once, every drift retrained
on every landed export with the previous gate (not worse by the margin), and the alert on
each check's verdict (Alertmanager's default 4 h reminder).

The grid is lighter than params.yaml's (log+watched seconds, linear age, standard
scaling, C in 0.05, 0.2, 1; 3 folds): the loop, not the search, is what is measured.

    uv run python benchmarks/soak.py [--visits 1000] [--days 30] [--policy after|before]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from juice.data import dataset
from juice.data.cache import ExportCache
from juice.data.ingest import ingest_into
from juice.data.simulator import (
    TRUE_PROBABILITY,
    World,
    blend,
    mean_age,
    simulate_world,
    world_for,
    write_export,
)
from juice.data.snapshots import snapshot_dataset
from juice.data.staging import staging_area
from juice.model.matrix import to_matrix
from juice.model.training import train_model
from juice.monitoring import loop
from juice.monitoring.check import check_drift, record_outcome
from juice.params import DriftParams, GridEntry, Params, SearchParams, load_params
from juice.registry import promotion, runs
from juice.registry.store import Registry
from juice.settings import Settings
from juice.workspace import PROJECT_PARAMS

SETTLED_AFTER = 24  # hours after a change (or the end of a gradual one) before it counts as stable
REPEAT_HOURS = {"after": 168, "before": 4}  # Alertmanager's reminder for a firing drift alert
FIRST_CHAMPION_VISITS = 20_000
QUALITY_VISITS = 50_000
NEVER = 10**9


@dataclass(frozen=True)
class Schedule:
    """When each change comes, in hours from the start (NEVER: it does not)."""

    campaign: int = 168
    older: int = 264
    older_done: int = 336  # the gradual shift is complete
    concept: int = 408
    campaign_ends: int = 552

    def changes(self) -> dict[str, tuple[int, int | None]]:
        """name: (first hour, hour the next change starts), for the changes that come."""
        starts = {"campaign starts": self.campaign, "older visitors (gradual)": self.older,
                  "concept": self.concept, "campaign ends": self.campaign_ends}  # fmt: skip
        come = sorted((hour, name) for name, hour in starts.items() if hour < NEVER)
        return {name: (hour, come[n + 1][0] if n + 1 < len(come) else None)
                for n, (hour, name) in enumerate(come)}  # fmt: skip

    def world_at(self, hour: int) -> World:
        """The simulated market at `hour`: each change applied from its hour on."""
        base = world_for("concept") if hour >= self.concept else world_for("stable")
        older = replace(world_for("older-visitors"), seconds_effect=base.seconds_effect,
                        watched_effect=base.watched_effect)  # fmt: skip
        span = max(self.older_done - self.older, 1)
        share = min(max((hour - self.older) / span, 0.0), 1.0)
        world = blend(base, older, share) if share > 0 else base
        if self.campaign <= hour < self.campaign_ends:
            campaign = world_for("campaign")
            world = replace(world, watch_share=campaign.watch_share,
                            full_view_share=campaign.full_view_share)  # fmt: skip
        return world

    def two_years_older(self) -> int:
        """The first hour at which the visitors' mean age has moved 2 years."""
        start = mean_age(self.world_at(self.older - 1))
        hours = range(self.older, self.older_done + 1)
        return next(hour for hour in hours if mean_age(self.world_at(hour)) - start >= 2)

    def stable_hours(self, hours: int) -> list[range]:
        """The stretches where the world does not change (a change counts as settled a day
        after it ends)."""
        changes = sorted(self.changes().values())
        ends = [start for start, _ in changes] + [hours]
        settled = [start + SETTLED_AFTER for start, _ in changes]
        if self.older < NEVER:
            settled = [self.older_done + SETTLED_AFTER if s == self.older + SETTLED_AFTER else s
                       for s in settled]  # fmt: skip
        starts = [0, *settled]
        return [range(start, min(end, hours)) for start, end in zip(starts, ends, strict=True)
                if start < min(end, hours)]  # fmt: skip


MONTH = Schedule()


@dataclass
class Hour:
    hour: int
    drift: bool
    incident_open: bool
    incident_number: int | None
    event: str
    retrained: bool
    promoted: bool
    champion: str
    targeted: int = 0
    hits: int = 0
    expected_sum: float = 0.0  # sum of the targeted visitors' probabilities


@dataclass
class Soak:
    settings: Settings
    params: Params
    policy: str
    schedule: Schedule
    hours: list[Hour] = field(default_factory=list)
    quality: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    seconds: float = 0.0


def light_params(policy: str) -> Params:
    """params.yaml with a one-pipeline grid; `before`: the previous drift thresholds."""
    params = load_params(PROJECT_PARAMS)
    grid = [GridEntry(watch=["log+watched"], C=[1.0])]
    train = params.train.model_copy(
        update={"search": SearchParams(grid=grid, cv_folds=2, n_jobs=1)}
    )
    drift = params.drift_check
    if policy == "before":
        drift = DriftParams(false_discovery_rate=0.025, min_share_difference=0.02, min_seconds_ks_statistic=0.05,
                            confidence=0.95, stream_decides=True, window_visits=10**9)  # fmt: skip
    return params.model_copy(update={"train": train, "drift_check": drift})


def train_in_process(soak: Soak, since: str | None, must_improve: bool) -> loop.Retrained:
    """The build-dataset and train flows' steps, without Prefect."""
    settings, params = soak.settings, soak.params
    build = params.build_dataset
    exports = dataset.landed_exports(settings, build.recent_exports, since)
    cache = ExportCache(settings.workspace.export_cache, build)
    with staging_area(settings.workspace) as staging:
        batches = dataset.reuse_cached(exports, staging, cache)
        for export in exports:
            if export not in batches:
                parsed = dataset.parse_landed(export, staging, build)
                report = dataset.validate_parsed(parsed, build)
                dataset.cache_results(export, parsed, report, cache)
                batches[export] = (parsed, report)
        summary = dataset.publish([batches[export] for export in exports], settings)
    snapshot = snapshot_dataset(settings)
    registry = Registry(settings, create=True)
    trained = train_model(snapshot.read(), params.train)
    lineage = {"dataset_version": None, "data_hash": snapshot.data_hash}
    card = runs.log_training(registry, trained, lineage, params.train.flat())
    with registry.locked():
        decision, _ = promotion.challenge(
            trained, params.train.gate, registry, improve=must_improve
        )
        promotion.record_decision(registry, card.version, decision)
        if decision.promote:
            promotion.promote(registry, card.version, decision.reason)
    return loop.Retrained(card.version, decision.promote, summary.dataset_rows)


def land(soak: Soak, folder: Path, hour: int, visits: int) -> None:
    world = soak.schedule.world_at(hour)
    path = write_export(simulate_world(visits, 10_000 + hour, world).drop(TRUE_PROBABILITY),
                        folder / f"hour-{hour:04d}.csv")  # fmt: skip
    ingest_into([str(path)], soak.settings)
    path.unlink()


def check_hour(
    soak: Soak, hour: int, retrain: Callable[[str | None, bool], loop.Retrained]
) -> Hour:
    check = check_drift(soak.settings, soak.params)
    if soak.policy == "after":
        outcome = loop.check_in_loop(soak.settings, check, soak.params, retrain)
    else:
        outcome = loop.check_by_hand(soak.settings, check, True, retrain)
    record_outcome(soak.settings, outcome, [])
    newest = [
        r for r in check.exports if check.window_sources and r.source == check.window_sources[-1]
    ]
    incident = outcome.incident
    return Hour(
        hour=hour, drift=check.report.drift,
        incident_open=incident is not None and incident.state == "open",
        incident_number=incident.number if incident else None, event=outcome.incident_event,
        retrained=outcome.retrained, promoted=outcome.promoted, champion=outcome.model_version,
        targeted=sum(r.targeted for r in newest), hits=sum(r.hits for r in newest),
        expected_sum=sum((r.expected_precision or 0) * r.targeted for r in newest),
    )  # fmt: skip


def run(
    visits: int, hours: int, policy: str, home: Path | None = None, schedule: Schedule = MONTH
) -> Soak:
    """The soak in the workspace `home` (a new temporary one by default): its first
    champion, then `hours` hours of exports and checks."""
    home = home or Path(tempfile.mkdtemp(prefix=f"soak-{policy}-{visits}-"))
    os.environ["JUICE_HOME"] = str(home)
    settings = Settings()
    from flows.runtime import prepare_environment

    prepare_environment(settings)
    soak = Soak(settings, light_params(policy), policy, schedule)
    folder = home / "incoming"
    folder.mkdir(exist_ok=True)
    started = time.perf_counter()
    first = simulate_world(FIRST_CHAMPION_VISITS, 1, schedule.world_at(0))
    ingest_into([str(write_export(first.drop(TRUE_PROBABILITY), folder / "first.csv"))], settings)
    train_in_process(soak, None, False)
    retrain = lambda since, improve: train_in_process(soak, since, improve)  # noqa: E731
    for hour in range(hours):
        land(soak, folder, hour, visits)
        soak.hours.append(check_hour(soak, hour, retrain))
        for name, (_, end) in schedule.changes().items():
            if end is not None and hour == end - 1:
                soak.quality[name] = quality(soak, hour)
        if hour % 24 == 23:
            print(f"  day {hour // 24 + 1}: champion v{soak.hours[-1].champion}, {time.perf_counter() - started:.0f} s",
                  flush=True)  # fmt: skip
    begun = [name for name, (start, _) in schedule.changes().items() if start < hours]
    if begun and begun[-1] not in soak.quality:  # the change the run ends in
        soak.quality[begun[-1]] = quality(soak, hours - 1)
    soak.seconds = time.perf_counter() - started
    return soak


def quality(soak: Soak, hour: int) -> tuple[float, float, float, float]:
    """The champion on fresh visits of the world at `hour`: its ROC AUC and the best
    possible, its precision at its threshold and the true probabilities' at the same."""
    pipeline, card = Registry(soak.settings).load()
    visits = simulate_world(QUALITY_VISITS, 99_999, soak.schedule.world_at(hour))
    bought = visits["purchased"].to_numpy()
    ours = pipeline.predict_proba(to_matrix(visits))[:, 1]
    truth = visits[TRUE_PROBABILITY].to_numpy()
    return (roc_auc_score(bought, ours), roc_auc_score(bought, truth),
            bought[ours >= card.threshold].mean(), bought[truth >= card.threshold].mean())  # fmt: skip


def alerts(soak: Soak, span: range) -> int:
    """Notifications Alertmanager sends for the drift alert in the hours of `span`: the
    first of each firing episode, then one per reminder interval while it fires."""
    repeat, sent, run_length = REPEAT_HOURS[soak.policy], 0, 0
    for hour in soak.hours:
        firing = hour.incident_open if soak.policy == "after" else hour.drift
        run_length = run_length + 1 if firing else 0
        sent += firing and (run_length - 1) % repeat == 0 and hour.hour in span
    return sent


def report(soak: Soak, visits: int) -> None:
    hours = len(soak.hours)
    print(
        f"\n{soak.policy} loop, {visits:,} visits an hour, {hours} hours ({hours // 24} days), {soak.seconds / 60:.1f} min"
    )
    print(
        "| change | detected after (h) | trainings | promotions | from its 6th hour on | alerts | incidents | AUC gap | precision at threshold vs best |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    older_mark = soak.schedule.two_years_older() if soak.schedule.older < NEVER else NEVER
    for name, (start, end) in soak.schedule.changes().items():
        if start >= hours:
            continue
        span = range(start, min(end or hours, hours))
        rows = [h for h in soak.hours if h.hour in span]
        origin = older_mark if name.startswith("older") else start
        found = next(
            (
                h.hour
                for h in rows
                if h.hour >= start and (h.event == "opened" if soak.policy == "after" else h.drift)
            ),
            None,
        )
        detected = (
            "never"
            if found is None
            else f"{found - origin + 1}" + (" (before the 2-year mark)" if found < origin else "")
        )
        late = sum(h.retrained for h in rows if h.hour >= start + 5)
        opened = sum(h.event == "opened" for h in rows) if soak.policy == "after" else "-"
        auc, best_auc, precision, best_precision = soak.quality.get(name, (np.nan,) * 4)
        print(
            f"| {name} | {detected} | {sum(h.retrained for h in rows)} | {sum(h.promoted for h in rows)} | {late} | "
            f"{alerts(soak, span)} | {opened} | {best_auc - auc:+.4f} | {precision:.3f} vs {best_precision:.3f} |"
        )
    print(
        "\n| stable stretch (h) | checks | drift verdicts | false alarms (incidents opened) | alerts | expected precision | realised precision | gap |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for span in soak.schedule.stable_hours(hours):
        rows = [h for h in soak.hours if h.hour in span]
        targeted = sum(h.targeted for h in rows)
        expected = sum(h.expected_sum for h in rows) / targeted if targeted else np.nan
        realised = sum(h.hits for h in rows) / targeted if targeted else np.nan
        opened = (
            sum(h.event == "opened" for h in rows)
            if soak.policy == "after"
            else sum(
                h.drift and not (p and p.drift)
                for h, p in zip(rows, [None, *rows[:-1]], strict=True)
            )
        )
        print(
            f"| {span.start}-{span.stop - 1} | {len(rows)} | {sum(h.drift for h in rows)} | {opened} | {alerts(soak, span)} | "
            f"{expected:.3f} | {realised:.3f} | {realised - expected:+.3f} |"
        )
    concept = [h for h in soak.hours if soak.schedule.concept <= h.hour < soak.schedule.concept + 5]
    if concept:
        targeted = sum(h.targeted for h in concept)
        print(
            f"\nconcept change, its first 5 hours: expected precision {sum(h.expected_sum for h in concept) / max(targeted, 1):.3f}, "
            f"realised {sum(h.hits for h in concept) / max(targeted, 1):.3f} ({targeted} targeted)"
        )
    total = sum(h.retrained for h in soak.hours), sum(h.promoted for h in soak.hours)
    print(
        f"over the run: {total[0]} trainings, {total[1]} promotions, {sum(h.drift for h in soak.hours)} drift verdicts in {hours} checks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, nargs="+", default=[1000, 200])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--policy", choices=("after", "before"), nargs="+", default=["after"])
    args = parser.parse_args()
    for policy in args.policy:
        for visits in args.visits:
            print(f"soak: {policy} loop, {visits:,} visits an hour, {args.days} days", flush=True)
            report(run(visits, args.days * 24, policy), visits)


if __name__ == "__main__":
    main()
