"""What a scored file says: counts, who would be targeted, how the model did on its labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from juice.schema import BOUGHT_CODE, LABEL, PROBABILITY, WILL_BUY
from ui.client import MAX_REJECTED_SHOWN, ScoredFile
from ui.text import percentage


@dataclass(frozen=True)
class FileReport:
    rows_scored: int
    rows_rejected: int
    targeted: int  # rows the service would target (will_buy true)
    probabilities: np.ndarray
    labelled: bool  # the file had the `purchased` column
    buyers: int  # labelled buyers (0 without labels)
    precision: float | None  # on the labels: share of the targeted who bought
    recall: float | None  # on the labels: share of the buyers who were targeted


def file_report(scored: ScoredFile) -> FileReport:
    """Reads the scored CSV the service answered: only the columns it reports on."""
    types = {PROBABILITY: pl.Float64, WILL_BUY: pl.Boolean, LABEL: pl.String}
    present = [name for name in pl.read_csv(scored.path, n_rows=0).columns if name in types]
    frame = pl.read_csv(
        scored.path, columns=present, schema_overrides={k: types[k] for k in present}
    )
    targeted = frame[WILL_BUY].fill_null(False) if WILL_BUY in frame.columns else None
    targeted_count = int(targeted.sum()) if targeted is not None else 0
    probabilities = frame[PROBABILITY].to_numpy() if PROBABILITY in frame.columns else np.empty(0)
    labelled = LABEL in frame.columns and targeted is not None
    precision = recall = None
    buyers = 0
    if labelled:
        bought = frame[LABEL] == BOUGHT_CODE
        buyers = int(bought.sum())
        hits = int((bought & targeted).sum())
        precision = hits / targeted_count if targeted_count else None
        recall = hits / buyers if buyers else None
    return FileReport(
        scored.rows_scored,
        scored.rows_rejected,
        targeted_count,
        probabilities,
        labelled,
        buyers,
        precision,
        recall,
    )


def report_markdown(report: FileReport) -> str:
    """The counts, then the model's precision and recall when the file has labels."""
    share = percentage(report.targeted / report.rows_scored) if report.rows_scored else "–"
    lines = [
        (
            f"**{report.rows_scored:,}** rows scored · **{report.rows_rejected:,}** rejected · "
            f"**{report.targeted:,}** would be targeted ({share} of the scored rows)"
        ),
    ]
    if report.rows_rejected:
        shown = min(report.rows_rejected, MAX_REJECTED_SHOWN)
        first = "" if shown == report.rows_rejected else f" (the first {shown})"
        lines.append(f"\nThe rejected lines{first} are listed below with their reason; "
                     "the other rows were scored.")  # fmt: skip
    if report.labelled:
        lines.append("\n" + _labels_sentence(report))
    return "\n".join(lines)


def _labels_sentence(report: FileReport) -> str:
    if not report.buyers:
        return "The file has labels, but nobody in it bought: recall cannot be measured."
    if report.precision is None:
        return (
            f"On this file's labels ({report.buyers:,} buyers): nobody would be targeted, "
            "so precision cannot be measured; recall is 0%."
        )
    return (
        f"On this file's labels ({report.buyers:,} buyers): precision "
        f"**{percentage(report.precision)}** (share of the targeted who bought), recall "
        f"**{percentage(report.recall)}** (share of the buyers who would be targeted)."
    )


def scored_file_name(upload_name: str) -> str:
    """`visits.csv` -> `visits-scored.csv`."""
    stem = upload_name.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "export"
    return f"{stem}-scored.csv"
