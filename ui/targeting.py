"""Campaign planning from the card's targeting table: threshold, reach, precision, recall."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
