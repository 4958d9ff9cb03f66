"""The simulated analytics system: believable shop visits with a known ground truth.

A fixed "world" says how long each flavour's ad is, how often it is watched and how
much watching it moves a purchase (diminishing returns: the effect grows with the
log of the seconds watched). Scenarios change the world the way markets drift.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import polars as pl

from juice.schema import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    BOUGHT_CODE,
    FEMALE_CODE,
    FLAVOURS,
    LABEL,
    MALE_CODE,
    NOT_BOUGHT_CODE,
    SEX,
    SexDtype,
)

TRUE_PROBABILITY = "true_probability"
_WORLD_SEED = 20_240_601  # the market itself does not change with an export's seed
_CAMPAIGN_FLAVOURS = ("mango", "lime", "coconut")


@dataclass(frozen=True)
class World:
    """Ground truth of the simulated market: one array entry per flavour."""

    ad_seconds: np.ndarray
    watch_share: np.ndarray
    full_view_share: np.ndarray
    watched_effect: np.ndarray
    seconds_effect: np.ndarray
    intercept: float = -2.5
    female_effect: float = 0.25
    age_effect_per_decade: float = -0.18
    age_shape: float = 2.0
    age_scale: float = 10.0

    def logit(self, sex_female: np.ndarray, age: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """True log-odds of a purchase for each visit."""
        watched = seconds > 0
        dose = np.log1p(seconds / 10.0)
        return (
            self.intercept
            + self.female_effect * sex_female
            + self.age_effect_per_decade * (age - 40) / 10
            + watched @ self.watched_effect
            + dose @ self.seconds_effect
        )


def _base_world() -> World:
    rng = np.random.default_rng(_WORLD_SEED)
    n = len(FLAVOURS)
    seconds_effect = rng.choice([0.0, 0.05, 0.15, 0.35, 0.6], size=n, p=[0.25, 0.3, 0.2, 0.15, 0.1])
    seconds_effect[rng.choice(n, size=3, replace=False)] = -0.2  # some ads put people off
    return World(
        ad_seconds=rng.integers(20, 301, size=n).astype(float),
        watch_share=rng.uniform(0.04, 0.32, size=n),
        full_view_share=rng.uniform(0.1, 0.4, size=n),
        watched_effect=rng.normal(0.05, 0.15, size=n),
        seconds_effect=seconds_effect,
    )


def _older_visitors(world: World) -> World:
    return replace(world, age_shape=6.0, age_scale=7.0)


def _campaign(world: World) -> World:
    boosted = np.isin(np.array(FLAVOURS), _CAMPAIGN_FLAVOURS)
    return replace(
        world,
        watch_share=np.where(
            boosted, np.minimum(world.watch_share * 3 + 0.2, 0.9), world.watch_share
        ),
        full_view_share=np.where(boosted, 0.7, world.full_view_share),
    )


def _concept(world: World) -> World:
    # What drives purchase moves to other flavours; who visits and what they watch do not.
    return replace(
        world,
        seconds_effect=world.seconds_effect[::-1].copy(),
        watched_effect=world.watched_effect[::-1].copy(),
    )


SCENARIOS = {
    "stable": lambda world: world,
    "older-visitors": _older_visitors,
    "campaign": _campaign,
    "concept": _concept,
}


def world_for(scenario: str) -> World:
    """The ground truth of a named scenario."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    return SCENARIOS[scenario](_base_world())


def blend(start: World, end: World, share: float) -> World:
    """A world `share` of the way from `start` to `end` (0: start, 1: end): a change that
    grows gradually, every number of the world moved in proportion."""
    if not 0 <= share <= 1:
        raise ValueError(f"share {share} is not in [0, 1]")
    moved = {
        field.name: (1 - share) * getattr(start, field.name) + share * getattr(end, field.name)
        for field in fields(World)
    }
    return World(**moved)


def mean_age(world: World) -> float:
    """The visitors' expected age in `world` (before the bounds clip it)."""
    return AGE_MIN + world.age_shape * world.age_scale


def simulate(rows: int, seed: int, scenario: str = "stable") -> pl.DataFrame:
    """Visits with typed columns plus the true purchase probability behind each label."""
    return simulate_world(rows, seed, world_for(scenario))


def simulate_world(rows: int, seed: int, world: World) -> pl.DataFrame:
    """Visits of `world` with typed columns plus the true purchase probability."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    n_flavours = len(FLAVOURS)

    female = rng.random(rows) < 0.52
    age = np.clip(AGE_MIN + rng.gamma(world.age_shape, world.age_scale, rows), AGE_MIN, AGE_MAX)
    age = np.floor(age).astype(np.int16)

    watched = rng.random((rows, n_flavours)) < world.watch_share
    full = rng.random((rows, n_flavours)) < world.full_view_share
    partial = np.ceil(rng.beta(1.1, 1.6, (rows, n_flavours)) * world.ad_seconds)
    seconds = np.where(watched, np.where(full, world.ad_seconds, np.maximum(partial, 1)), 0)
    seconds = seconds.astype(np.int32)

    probability = 1 / (1 + np.exp(-world.logit(female, age, seconds)))
    purchased = rng.random(rows) < probability

    return pl.DataFrame(
        {
            SEX: pl.Series(np.where(female, FEMALE_CODE, MALE_CODE), dtype=SexDtype),
            AGE: age,
            **{flavour: seconds[:, j] for j, flavour in enumerate(FLAVOURS)},
            LABEL: purchased,
            TRUE_PROBABILITY: probability,
        }
    )


def write_export(visits: pl.DataFrame, path: Path, *, header: bool = False) -> Path:
    """Writes visits in the analytics system's raw format (headerless CSV, M/F, Y/N)."""
    columns = [pl.col(SEX).cast(pl.String), pl.col(AGE), *map(pl.col, FLAVOURS)]
    if LABEL in visits.columns:
        columns.append(
            pl.when(pl.col(LABEL))
            .then(pl.lit(BOUGHT_CODE))
            .otherwise(pl.lit(NOT_BOUGHT_CODE))
            .alias(LABEL)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    visits.select(columns).write_csv(path, include_header=header)
    return path
