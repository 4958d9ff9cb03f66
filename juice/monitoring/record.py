"""The champion's record: how it actually did, export by export, against what it promised.

Each drift check scores its window with the champion; on every labelled export of the
window it measures, at the champion's threshold, the precision and recall it realised
(a backtest) beside the precision it expected of the visitors it targeted (the mean of
their probabilities: what it promises on visits without labels yet).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from juice.model.decision import decide
from juice.schema import LABEL, SOURCE


@dataclass(frozen=True)
class ExportRecord:
    """One export scored by the champion: realised and expected, at its threshold."""

    source: str
    visits: int
    labelled: int
    targeted: int  # labelled visitors at or above the threshold
    buyers: int  # labelled visitors who bought
    hits: int  # targeted visitors who bought
    expected_precision: float | None  # mean probability of the targeted (labelled or not)
    realised_precision: float | None  # hits / targeted
    realised_recall: float | None  # hits / buyers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_records(
    visits: pl.DataFrame, probability: np.ndarray | None, threshold: float
) -> list[ExportRecord]:
    """The champion's record on each export of a scored window (none without scores)."""
    if probability is None or not visits.height:
        return []
    scored = visits.select(SOURCE, LABEL).with_columns(
        pl.Series("p", probability), decide(pl.Series("p", probability), threshold).alias("t")
    )
    records = []
    for (source,), rows in scored.partition_by(SOURCE, as_dict=True, maintain_order=True).items():
        labelled = rows.filter(pl.col(LABEL).is_not_null())
        targeted = labelled.filter(pl.col("t"))
        buyers = int(labelled[LABEL].sum())
        hits = int(targeted[LABEL].sum())
        everyone_targeted = rows.filter(pl.col("t"))
        records.append(
            ExportRecord(
                source=str(source),
                visits=rows.height,
                labelled=labelled.height,
                targeted=targeted.height,
                buyers=buyers,
                hits=hits,
                expected_precision=_mean(everyone_targeted["p"]),
                realised_precision=hits / targeted.height if targeted.height else None,
                realised_recall=hits / buyers if buyers else None,
            )
        )
    return records


def _mean(values: pl.Series) -> float | None:
    return float(values.mean()) if len(values) else None  # type: ignore[arg-type]
