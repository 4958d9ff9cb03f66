"""The champion's record: how it actually did, export by export, against what it promised.

Each drift check scores its window with the champion; on every labelled export of the
window it measures, at the champion's threshold, the precision and recall it realised
(a backtest) beside the precision it expected of the visitors it targeted (the mean of
their probabilities: what it promises on visits without labels yet). The checks keep
these figures with their MLflow runs; `juice.monitoring.standing` gathers them, with
the prediction log's expectation and the timeline of incidents and champions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from juice.model.decision import decide
from juice.schema import LABEL, MODEL_VERSION, PROBABILITY, SOURCE, WILL_BUY


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


@dataclass(frozen=True)
class TimelineEvent:
    """A drift incident opened or closed, or a change of champion, with why."""

    at: str
    kind: str  # incident-opened | incident-closed | champion
    words: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChampionRecord:
    """How the serving champion is doing since it began serving, where marketers look."""

    version: str
    serving_since: str | None
    threshold: float
    promised_precision: float | None  # on its test data, at its threshold
    promised_recall: float | None
    exports: list[ExportRecord]  # each labelled export it was judged on, oldest first
    realised_precision: float | None  # pooled over those exports
    realised_recall: float | None
    traffic_visits: int  # visits it scored for services and the app (the prediction log)
    traffic_targeted: int
    expected_precision: float | None  # the mean probability of the visitors it targeted there
    timeline: list[TimelineEvent]  # incidents and changes of champion, newest first

    def to_dict(self) -> dict[str, Any]:
        return {
            **{key: value for key, value in asdict(self).items()
               if key not in ("exports", "timeline")},
            "exports": [record.to_dict() for record in self.exports],
            "timeline": [event.to_dict() for event in self.timeline],
        }  # fmt: skip


def pooled(records: list[ExportRecord]) -> tuple[float | None, float | None]:
    """Precision and recall over every targeted visitor and buyer of `records`."""
    targeted = sum(record.targeted for record in records)
    buyers = sum(record.buyers for record in records)
    hits = sum(record.hits for record in records)
    return (hits / targeted if targeted else None, hits / buyers if buyers else None)


def traffic_expectation(folder: Path, version: str) -> tuple[int, int, float | None]:
    """From the prediction log: the visits `version` scored, those it targeted, and the
    mean probability of the targeted (what it expects their precision to be)."""
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return 0, 0, None
    scored = pl.scan_parquet(files).filter(pl.col(MODEL_VERSION) == version)
    visits, targeted, expected = (
        scored.select(
            pl.len(),
            pl.col(WILL_BUY).sum(),
            pl.col(PROBABILITY).filter(pl.col(WILL_BUY)).mean(),
        )
        .collect()
        .row(0)
    )
    return int(visits), int(targeted or 0), None if expected is None else float(expected)


def describe_record(record: ChampionRecord) -> list[str]:
    """The champion's standing in lines, for people."""
    since = f"serving since {record.serving_since}" if record.serving_since else "serving"
    return [
        (
            f"champion v{record.version}, {since}; it targets from a probability of "
            f"{record.threshold:.3f}"
        ),
        (
            f"promised on its test data: precision {_share(record.promised_precision)}, recall "
            f"{_share(record.promised_recall)}"
        ),
        (
            f"realised on {len(record.exports)} labelled export(s) since: precision "
            f"{_share(record.realised_precision)}, recall {_share(record.realised_recall)}"
        ),
        *(
            f"  {item.source}: {item.targeted:,} of {item.labelled:,} targeted, precision "
            f"{_share(item.realised_precision)} (it expected {_share(item.expected_precision)}), "
            f"recall {_share(item.realised_recall)}"
            for item in record.exports
        ),
        (
            f"expected on the {record.traffic_targeted:,} visitors it targeted among the "
            f"{record.traffic_visits:,} it scored (no labels yet): precision "
            f"{_share(record.expected_precision)}"
        ),
        "timeline (newest first):" if record.timeline else "timeline: nothing yet",
        *(f"  {event.at}  {event.words}" for event in record.timeline),
    ]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
