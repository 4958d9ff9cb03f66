"""Batch scoring: an export in, the same rows with probability and decision out."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from juice.data.parsing import REASON, ExportBlocks, parse_export
from juice.errors import JuiceError
from juice.model.linear import LinearForm
from juice.model.matrix import to_counts, to_matrix
from juice.model.served import ServedModel
from juice.schema import (
    BOUGHT_CODE,
    FEATURES,
    LABEL,
    LINE,
    NOT_BOUGHT_CODE,
    PROBABILITY,
    SEX,
    WILL_BUY,
)
from juice.streams import ahead


@dataclass(frozen=True)
class ScoringResult:
    rows_scored: int
    rows_rejected: int
    output: str
    rejected: str | None  # the rejected lines with their reasons, beside the output
    model_version: str
    threshold: float


Observer = Callable[[np.ndarray, np.ndarray, np.ndarray], None]  # matrix, probability, decision
CHUNK_ROWS = 100_000  # visits scored at a time: bounds memory whatever the file's size


@dataclass(frozen=True)
class FileScoring:
    """A scored file: its good rows written to the output (unless refused for its broken
    lines), with the first broken lines and their reasons."""

    rows_scored: int
    lines_read: int
    lines_broken: int
    problems: list[tuple[int, str]]  # (line, reason) of the first broken lines
    refused: bool  # one broken line refused the file: nothing was scored or written


def score_file(
    source: Path,
    output: Path,
    model: ServedModel,
    *,
    max_seconds: int,
    refuse_broken: bool = False,
    show: int = 20,
    observe: Observer | None = None,
    rejected: Path | None = None,
) -> FileScoring:
    """Scores an export (label optional, header optional) into a CSV at `output`, a
    chunk at a time (a block of the parser's, or CHUNK_ROWS visits), so memory stays
    about one chunk whatever the file size. With neither `refuse_broken` nor `observe`,
    each block is scored as soon as it is parsed.

    Broken lines are listed (the first `show`), copied with their reasons to `rejected`
    when given, and refuse the whole file with `refuse_broken`. `observe` sees each
    chunk's matrix, probabilities and decisions (metrics, the prediction log).
    """
    if not refuse_broken and observe is None:  # nothing to hold back: score as it is read
        try:
            return _score_streaming(source, output, model, max_seconds, show, rejected)
        except _LabelsLater:
            pass  # scored again in two steps, the output written afresh
    with tempfile.TemporaryDirectory() as tmp:
        parsed = parse_export(
            source,
            Path(tmp) / "accepted.parquet",
            Path(tmp) / "rejected.csv",
            max_seconds=max_seconds,
            label="optional",
            source=source.name,
        )
        refused = refuse_broken and parsed.rows_quarantined > 0
        if not refused:
            visits = pl.scan_parquet(parsed.accepted_path)
            labelled = visits.select(pl.col(LABEL).is_not_null().any()).collect().item()
            chunks = visits.collect_batches(chunk_size=CHUNK_ROWS)
            _write_scored(chunks, visits.clear().collect(), labelled, output, model, observe)
        return _outcome(parsed.rows_accepted, parsed.rows_quarantined, parsed.quarantine_path,
                        show, rejected, refused)  # fmt: skip


class _LabelsLater(Exception):
    """A block holds labels when the first did not: the output's columns were decided."""


def _score_streaming(
    source: Path, output: Path, model: ServedModel, max_seconds: int, show: int,
    rejected: Path | None,
) -> FileScoring:  # fmt: skip
    """Each block scored and written as the parser gives it, without a hand-off file. The
    output keeps the label column when the first block holds a label; a later block that
    holds one when the first did not raises `_LabelsLater` (the two-step path decides
    from every row)."""
    with tempfile.TemporaryDirectory() as tmp:
        export = ExportBlocks(source, Path(tmp) / "rejected.csv", max_seconds=max_seconds,
                              label="optional", source=source.name)  # fmt: skip
        blocks = iter(export)
        try:
            first = next(blocks)
            labelled = bool(first.get_column(LABEL).is_not_null().any())

            def checked() -> Iterator[pl.DataFrame]:
                yield first
                for block in blocks:
                    if not labelled and block.get_column(LABEL).is_not_null().any():
                        raise _LabelsLater
                    yield block

            _write_scored(checked(), first.clear(), labelled, output, model)
        finally:
            blocks.close()  # its staging folder goes, however the scoring ended
        return _outcome(export.accepted, export.quarantined, export.quarantine_path, show,
                        rejected, refused=False)  # fmt: skip


def _outcome(
    scored: int, broken: int, quarantine: Path, show: int, rejected: Path | None, refused: bool
) -> FileScoring:
    """The file's scoring, its broken lines copied to `rejected` when given (and any
    copy of an earlier run removed)."""
    problems: list[tuple[int, str]] = []
    if broken:
        problems = pl.read_csv(quarantine, n_rows=show, columns=[LINE, REASON]).rows()
    if rejected is not None:
        if broken:
            shutil.copyfile(quarantine, rejected)
        else:
            rejected.unlink(missing_ok=True)
    return FileScoring(
        rows_scored=0 if refused else scored,
        lines_read=scored + broken,
        lines_broken=broken,
        problems=problems,
        refused=refused,
    )


def _write_scored(
    chunks: Iterable[pl.DataFrame], empty: pl.DataFrame, labelled: bool, output: Path,
    model: ServedModel, observe: Observer | None = None,
) -> None:  # fmt: skip
    """The visits, scored chunk by chunk and appended to one CSV (the header alone, from
    `empty`, when there is no visit)."""

    def scored() -> Iterator[pl.DataFrame]:
        for number, chunk in enumerate(itertools.chain(chunks, [None])):
            if chunk is None and number:
                break
            chunk = empty if chunk is None else chunk
            scored = score_visits(chunk, model)
            if observe is not None and chunk.height:
                observe(to_matrix(chunk), scored[PROBABILITY].to_numpy(),
                        scored[WILL_BUY].to_numpy())  # fmt: skip
            yield _raw_form(scored, labelled)

    with output.open("wb") as stream:
        # Each chunk is scored while the one before is written (polars writes without the GIL).
        for number, chunk in enumerate(ahead(scored())):
            chunk.write_csv(stream, include_header=not number)


def score_visits(visits: pl.DataFrame, model: ServedModel) -> pl.DataFrame:
    """The typed visits with `probability` and `will_buy` appended (a `LinearForm` looks
    up each column's share of the logit: no model matrix)."""
    scorer = model.probabilities
    if not len(visits):
        probability = np.empty(0)
    elif isinstance(scorer, LinearForm):
        probability = scorer.probabilities_of_counts(to_counts(visits))
    else:
        probability = scorer(to_matrix(visits))
    return visits.with_columns(
        pl.Series(PROBABILITY, probability, dtype=pl.Float64),
    ).with_columns(model.decide(pl.col(PROBABILITY)).alias(WILL_BUY))


def score_export(
    source: Path, output: Path, model: ServedModel, *, max_seconds: int
) -> ScoringResult:
    """Scores every valid row of an export (label optional, header optional).

    Rows that break the contract are not scored; they are written, with line number
    and reason, to `<output>.rejected.csv`. Neither may be the input itself (by any path).
    """
    rejected = output.with_name(f"{output.name}.rejected.csv")
    for target in (output, rejected):
        if target.exists() and source.exists() and target.samefile(source):
            raise JuiceError(f"{target} is the input {source}: write the scores elsewhere")
    output.parent.mkdir(parents=True, exist_ok=True)
    result = score_file(source, output, model, max_seconds=max_seconds, rejected=rejected)
    return ScoringResult(
        rows_scored=result.rows_scored,
        rows_rejected=result.lines_broken,
        output=str(output),
        rejected=str(rejected) if result.lines_broken else None,
        model_version=model.version,
        threshold=model.threshold,
    )


def _raw_form(scored: pl.DataFrame, labelled: bool) -> pl.DataFrame:
    """Back to the export's codes (M/F, Y/N), the label kept if the export had one."""
    columns: list[pl.Expr] = [pl.col(SEX).cast(pl.String), *map(pl.col, FEATURES[1:])]
    if labelled:
        label = (
            pl.when(pl.col(LABEL)).then(pl.lit(BOUGHT_CODE))
            .when(~pl.col(LABEL)).then(pl.lit(NOT_BOUGHT_CODE))
        )  # fmt: skip
        columns.append(label.alias(LABEL))
    return scored.select(*columns, pl.col(PROBABILITY).round(6), pl.col(WILL_BUY))
