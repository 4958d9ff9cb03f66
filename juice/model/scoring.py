"""Batch scoring: an export in, the same rows with probability and decision out."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from juice.data.parsing import REASON, ParseResult, parse_export
from juice.model.features import to_matrix
from juice.schema import FEATURES, LABEL, LINE, PROBABILITY, SEX, WILL_BUY

Scorer = Callable[[np.ndarray], np.ndarray]  # model matrix -> purchase probability


@dataclass(frozen=True)
class ScoringResult:
    rows_scored: int
    rows_rejected: int
    output: str
    rejected: str | None  # the rejected lines with their reasons, beside the output
    model_version: str
    threshold: float


@dataclass(frozen=True)
class UploadScoring:
    """An uploaded export: scored (its good rows, when broken lines are skipped) or
    refused, with the lines that break the format."""

    scored: pl.DataFrame | None  # None: refused for its broken lines
    matrix: np.ndarray | None  # the scored rows' model matrix (for metrics and the log)
    problems: list[tuple[int, str]]  # (line, reason) of the first broken lines
    lines_read: int
    lines_broken: int


def score_upload(
    source: Path,
    probabilities: Scorer,
    *,
    threshold: float,
    max_seconds: int,
    skip_broken: bool = False,
    show: int = 20,
) -> UploadScoring:
    """Scores an upload: all or nothing (one broken line refuses the file), or with
    `skip_broken` its good rows, listing the first `show` broken lines either way."""
    with tempfile.TemporaryDirectory() as tmp:
        parsed = _parse(source, Path(tmp), max_seconds, "upload")
        problems: list[tuple[int, str]] = []
        if parsed.rows_quarantined:
            broken = pl.read_csv(parsed.quarantine_path, n_rows=show, columns=[LINE, REASON])
            problems = broken.rows()
            if not skip_broken:
                return UploadScoring(
                    None, None, problems, parsed.rows_read, parsed.rows_quarantined
                )
        visits = pl.read_parquet(parsed.accepted_path)
    matrix = to_matrix(visits)
    scored = score_visits(visits, matrix, probabilities, threshold)
    return UploadScoring(scored, matrix, problems, parsed.rows_read, parsed.rows_quarantined)


def _parse(source: Path, folder: Path, max_seconds: int, name: str) -> ParseResult:
    """Parses a file to score: the label (field 26) is optional."""
    return parse_export(
        source,
        folder / "accepted.parquet",
        folder / "rejected.csv",
        max_seconds=max_seconds,
        label="optional",
        source=name,
    )


def score_visits(
    visits: pl.DataFrame, matrix: np.ndarray, probabilities: Scorer, threshold: float
) -> pl.DataFrame:
    """The visits (and their model matrix) with `probability` and `will_buy` appended."""
    probability = probabilities(matrix) if len(visits) else np.empty(0)
    return visits.with_columns(
        pl.Series(PROBABILITY, probability, dtype=pl.Float64),
    ).with_columns((pl.col(PROBABILITY) >= threshold).alias(WILL_BUY))


def score_export(
    source: Path,
    output: Path,
    probabilities: Scorer,
    *,
    threshold: float,
    model_version: str,
    max_seconds: int,
) -> ScoringResult:
    """Scores every valid row of an export (label optional, header optional).

    Rows that break the contract are not scored; they are written, with line number
    and reason, to `<output>.rejected.csv`.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        parsed = _parse(source, Path(tmp), max_seconds, source.name)
        visits = pl.read_parquet(parsed.accepted_path)
        scored = score_visits(visits, to_matrix(visits), probabilities, threshold)
        write_scored(scored, output)
        rejected = output.with_name(f"{output.name}.rejected.csv")
        if parsed.rows_quarantined:
            shutil.copyfile(parsed.quarantine_path, rejected)
        else:
            rejected.unlink(missing_ok=True)
    return ScoringResult(
        rows_scored=parsed.rows_accepted,
        rows_rejected=parsed.rows_quarantined,
        output=str(output),
        rejected=str(rejected) if parsed.rows_quarantined else None,
        model_version=model_version,
        threshold=threshold,
    )


def write_scored(scored: pl.DataFrame, path: Path | None = None) -> str | None:
    """Scored visits as CSV in the export's codes: to `path`, or returned as text."""
    return _raw_form(scored).write_csv(path)


def _raw_form(scored: pl.DataFrame) -> pl.DataFrame:
    """Back to the export's codes (M/F, Y/N), label kept only if the export had one."""
    columns: list[pl.Expr] = [pl.col(SEX).cast(pl.String), *map(pl.col, FEATURES[1:])]
    if scored[LABEL].is_not_null().any():
        label = pl.when(pl.col(LABEL)).then(pl.lit("Y")).when(~pl.col(LABEL)).then(pl.lit("N"))
        columns.append(label.alias(LABEL))
    return scored.sort(LINE).select(*columns, pl.col(PROBABILITY).round(6), pl.col(WILL_BUY))
