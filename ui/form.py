"""The One visitor form: its labels, its groups of ads and the visit it stands for."""

from __future__ import annotations

import math
from typing import Any

from juice.schema import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    FEMALE_CODE,
    FLAVOURS,
    MALE_CODE,
    SECONDS_MIN,
    SEX,
    SEX_CODES,
)

# Letter ranges of the ad accordions: four groups of 4 to 7 ads, easy to scan.
AD_GROUPS: tuple[tuple[str, str], ...] = (("A", "B"), ("C", "L"), ("M", "P"), ("Q", "Z"))


def flavour_label(flavour: str) -> str:
    """The form's label of a flavour: `Apple` ... `Strawberries`."""
    return flavour.capitalize()


def ad_groups(flavours: tuple[str, ...] = FLAVOURS) -> list[tuple[str, list[str]]]:
    """(accordion title, flavours) per letter range, in the schema's order; empty ranges
    are left out."""
    groups = []
    for first, last in AD_GROUPS:
        members = [f for f in flavours if first.lower() <= f[0] <= last.lower()]
        if members:
            groups.append((f"Ads {first}–{last}", members))
    return groups


def visit_from_form(
    sex: str | None, age: float | None, seconds: dict[str, Any], max_seconds: int | None = None
) -> dict[str, Any]:
    """The API's visit for the form's values: sex, age and every ad watched (> 0 s), each
    ad's seconds up to `max_seconds` (the service's bound; None: not known here).

    Raises:
        ValueError: a value the service would refuse, as a sentence naming the control.
    """
    if sex not in SEX_CODES:
        raise ValueError(f"Choose the visitor's sex ({MALE_CODE} or {FEMALE_CODE}).")
    visit: dict[str, Any] = {SEX: sex, AGE: _whole(age, "Age", AGE_MIN, AGE_MAX)}
    for flavour in FLAVOURS:
        watched = _whole(
            seconds.get(flavour) or 0, flavour_label(flavour), SECONDS_MIN, max_seconds
        )
        if watched:
            visit[flavour] = watched
    return visit


def _whole(value: float | None, label: str, low: int, high: int | None) -> int:
    bounds = f"between {low:,} and {high:,}" if high is not None else f"of at least {low:,}"
    if value is None or not math.isfinite(value) or value != int(value):
        raise ValueError(f"{label} must be a whole number {bounds}.")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{label} must be a whole number {bounds}; it is {int(value):,}.")
    return int(value)
