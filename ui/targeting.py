"""Campaign planning from the card's targeting table: threshold, reach, precision, recall."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from juice.schema import PROBABILITY
from ui.text import percentage


@dataclass(frozen=True)
class TargetingRow:
    """One threshold of the card's table, measured on the model's test visitors."""

    threshold: float
    precision: float | None  # None when nobody is reached
    recall: float
    reach: float  # share of visitors at or above the threshold


@dataclass(frozen=True)
class Campaign:
    """What a threshold gives on a campaign of `visitors` visitors."""

    visitors: int
    reached: int
    buyers: int | None  # expected buyers among those reached


def targeting_rows(card: dict[str, Any]) -> list[TargetingRow] | None:
    """The card's table in ascending threshold order, or None for a card that has none
    (models trained before the table existed)."""
    table = card.get("targeting")
    if not table:
        return None
    rows = [
        TargetingRow(
            float(row["threshold"]),
            None if row.get("precision") is None else float(row["precision"]),
            float(row["recall"]),
            float(row["reach"]),
        )
        for row in table
    ]
    return sorted(rows, key=lambda row: row.threshold)


def nearest_threshold(rows: list[TargetingRow], threshold: float) -> TargetingRow:
    """The row whose threshold is closest (the lower one on a tie)."""
    return min(rows, key=lambda row: abs(row.threshold - threshold))


def nearest_reach(rows: list[TargetingRow], reach: float) -> TargetingRow:
    """The row whose reach is closest to `reach` (a share in [0, 1]); on a tie, the higher
    threshold: the same reach with fewer false positives."""
    return min(reversed(rows), key=lambda row: abs(row.reach - reach))


def campaign(row: TargetingRow, visitors: int) -> Campaign:
    reached = round(row.reach * visitors)
    buyers = None if row.precision is None else round(row.precision * reached)
    return Campaign(visitors, reached, buyers)


def campaign_markdown(
    chosen: TargetingRow, served: TargetingRow, visitors: int, served_threshold: float
) -> str:
    """The chosen row and the served threshold's (nearest) row side by side, for `visitors`
    visitors."""
    plan = campaign(chosen, visitors)
    header = [
        "| | From a probability of | Visitors reached | Precision | Recall | Expected buyers |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    served_name = "Served now"
    if percentage(served_threshold) != percentage(served.threshold):
        served_name += f" (at {percentage(served_threshold)}; nearest measured row)"
    rows = [
        _table_row("**Your choice**", chosen, visitors),
        _table_row(served_name, served, visitors),
    ]
    buyers = "an unknown number of" if plan.buyers is None else f"about {plan.buyers:,}"
    sentence = (
        f"Targeting visitors from a probability of {percentage(chosen.threshold)} reaches "
        f"**{plan.reached:,} of {visitors:,}** visitors ({percentage(chosen.reach)}). Expect "
        f"{buyers} buyers among them (precision **{percentage(chosen.precision)}**), "
        f"**{percentage(chosen.recall)}** of all the buyers in the campaign (recall)."
    )
    return "\n".join([sentence, "", *header, *rows])


def _table_row(name: str, row: TargetingRow, visitors: int) -> str:
    plan = campaign(row, visitors)
    buyers = "–" if plan.buyers is None else f"{plan.buyers:,}"
    return (
        f"| {name} | {percentage(row.threshold)} | {plan.reached:,} ({percentage(row.reach)}) | "
        f"{percentage(row.precision)} | {percentage(row.recall)} | {buyers} |"
    )


TARGETED = "targeted"  # the column a campaign plan adds to a scored file


@dataclass(frozen=True)
class Plan:
    """A campaign chosen on the Targeting tab: everyone from a probability (`threshold`), or
    the top `reach` share of a file's visitors (when the reach was chosen)."""

    by: str  # threshold | reach
    threshold: float
    reach: float
    visitors: int

    def describe(self) -> str:
        if self.by == "reach":
            return f"the top {percentage(self.reach)} of its visitors by probability of buying"
        return f"everyone from a probability of buying of {percentage(self.threshold)}"


@dataclass(frozen=True)
class PlannedFile:
    """A scored file marked by a plan: how many it targets, and what to expect of them."""

    rows: int
    targeted: int
    expected_precision: float | None  # the mean probability of the targeted
    expected_buyers: float  # the sum of their probabilities


def plan_file(scored: Path, target: Path, plan: Plan) -> PlannedFile:
    """Copies the scored CSV (every column as the service wrote it) to `target` with a
    `targeted` column after them: the visitors `plan` targets. Streamed: the file is never
    whole in memory, only its probabilities while a top share is ranked."""
    frame = pl.scan_csv(scored, infer_schema=False)
    probability = pl.col(PROBABILITY).cast(pl.Float64)
    if plan.by == "reach":
        rows = frame.select(pl.len()).collect().item()
        marked = probability.rank("ordinal", descending=True) <= round(plan.reach * rows)
    else:  # the service's own rule, at the plan's threshold
        marked = probability >= plan.threshold
    frame.with_columns(marked.alias(TARGETED)).sink_csv(target)
    counted = pl.scan_csv(target, schema_overrides={PROBABILITY: pl.Float64, TARGETED: pl.Boolean})
    chosen = pl.col(PROBABILITY).filter(pl.col(TARGETED))
    rows, targeted, mean, total = (
        counted.select(
            pl.len(), pl.col(TARGETED).sum(), chosen.mean().alias("mean"), chosen.sum().alias("sum")
        )
        .collect()
        .row(0)
    )
    return PlannedFile(int(rows), int(targeted or 0), mean, float(total or 0.0))


def planned_markdown(plan: Plan, planned: PlannedFile) -> str:
    """What the plan does to the file, in a sentence."""
    if not planned.targeted:
        return f"Your campaign plan ({plan.describe()}) targets nobody in this file."
    return (
        f"Your campaign plan ({plan.describe()}) targets **{planned.targeted:,} of "
        f"{planned.rows:,}** visitors in this file, marked in the download's `{TARGETED}` "
        f"column: expect a precision of **{percentage(planned.expected_precision)}**, about "
        f"**{planned.expected_buyers:,.0f}** buyers among them."
    )
