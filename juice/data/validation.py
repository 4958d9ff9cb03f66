"""Validate a parsed batch with Great Expectations: row rules from the schema, plus
batch-level checks that catch an export that parses fine but is broken."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from juice.params import ValidationParams
from juice.schema import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    DATASET_SCHEMA,
    FLAVOURS,
    LABEL,
    LINE,
    SECONDS_MIN,
    SEX,
    SEX_CODES,
    SOURCE,
)

# Batch statistics, validated as a one-row summary.
ROWS = "rows"
QUARANTINE_SHARE = "quarantine_share"
PURCHASE_RATE = "purchase_rate"
ADS_PER_VISIT = "ads_per_visit"
# Integers are widened to int64 for validation: GE's range checks are 30x slower on int32.
_PANDAS_TYPES: dict[pl.DataType | type[pl.DataType], str] = {
    pl.Int16: "int64",
    pl.Int32: "int64",
    pl.Int64: "int64",
    pl.Boolean: "bool",
}
_VALIDATED = [name for name in DATASET_SCHEMA if name != SOURCE]


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, readable without Great Expectations."""

    expectation: str
    column: str | None
    success: bool
    observed: Any
    unexpected_count: int | None
    unexpected_lines: list[int]
    error: str | None


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one batch; `success` is False if any expectation failed or broke."""

    batch: str
    success: bool
    rows: int
    lines_read: int
    outcomes: list[ExpectationOutcome]

    @classmethod
    def unreadable(cls, batch: str, reason: str) -> ValidationReport:
        """The verdict on a file that cannot be read at all: rejected whole, with its reason."""
        outcome = ExpectationOutcome("file_readable", None, False, None, None, [], reason)
        return cls(batch=batch, success=False, rows=0, lines_read=0, outcomes=[outcome])

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.success]

    def summary(self) -> str:
        """One line naming what failed, for logs and error messages."""
        if self.success:
            return f"{self.batch}: valid ({len(self.outcomes)} expectations)"
        failed = ", ".join(_describe(outcome) for outcome in self.failures)
        return f"{self.batch}: invalid: {failed}"

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, default=str) + "\n")
        return path


def _describe(outcome: ExpectationOutcome) -> str:
    where = f"[{outcome.column}]" if outcome.column else ""
    seen = outcome.error or f"observed {outcome.observed}"
    return f"{outcome.expectation}{where} ({seen})"


def batch_statistics(batch: pl.DataFrame, lines_read: int) -> dict[str, float]:
    """The batch-level figures the suite bounds (computed in polars: GE's means loop in Python)."""
    rows = len(batch)
    return {
        ROWS: rows,
        # (set aside) / read, not 1 - rows/read: 1 - 0.95 is 0.050000000000000044 > 0.05
        QUARANTINE_SHARE: (lines_read - rows) / lines_read if lines_read else 1.0,
        PURCHASE_RATE: float(batch.select(pl.col(LABEL).mean()).item()) if rows else 0.0,
        ADS_PER_VISIT: float(batch.select(pl.sum_horizontal(pl.col(FLAVOURS) > 0).mean()).item())
        if rows
        else 0.0,
    }


def validate_batch(
    batch: pl.DataFrame, *, name: str, lines_read: int, params: ValidationParams, max_seconds: int
) -> ValidationReport:
    """Runs the expectation suites over one parsed batch: row rules on its rows, batch
    rules on its one-row summary.

    Args:
        batch: the accepted rows, typed as `DATASET_SCHEMA`.
        name: the batch's name in the report.
        lines_read: data lines of the export, accepted or quarantined.
        params: batch-level bounds.
        max_seconds: the upper bound on seconds the parser applied.
    """
    import great_expectations as gx  # 7-11 s to import: only when validating
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("exports")
    # The source column is lineage we wrote ourselves, and the costliest to hand to pandas.
    rows = batch.drop(SOURCE).with_columns(pl.col(pl.Int16, pl.Int32).cast(pl.Int64))
    statistics = batch_statistics(batch, lines_read)
    by_line = {"result_format": "SUMMARY", "unexpected_index_column_names": [LINE]}
    checks: list[tuple[str, Any, list[Any], Any]] = [
        ("rows", rows.to_pandas(), _row_expectations(gx.expectations, max_seconds), by_line),
        (
            "summary",
            pl.DataFrame([statistics]).to_pandas(),
            _batch_expectations(gx.expectations, params, len(batch)),
            "SUMMARY",
        ),
    ]
    outcomes = []
    for asset, frame, expectations, result_format in checks:
        definition = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe("all")
        result = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            gx.ExpectationSuite(name=f"export_{asset}", expectations=expectations),
            result_format=result_format,
        )
        outcomes += [_outcome(item, statistics) for item in result.results]
    return ValidationReport(
        batch=name,
        success=all(outcome.success for outcome in outcomes),
        rows=len(batch),
        lines_read=lines_read,
        outcomes=outcomes,
    )


def _row_expectations(gxe: Any, max_seconds: int) -> list[Any]:
    expected: list[Any] = [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=_VALIDATED),
        gxe.ExpectColumnValuesToBeUnique(column=LINE),
        gxe.ExpectColumnValuesToBeInSet(column=SEX, value_set=list(SEX_CODES)),
        gxe.ExpectColumnValuesToBeOfType(column=SEX, type_="CategoricalDtypeType"),
        gxe.ExpectColumnValuesToBeBetween(column=AGE, min_value=AGE_MIN, max_value=AGE_MAX),
        gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=[True, False]),
    ]
    for column in _VALIDATED:
        dtype = DATASET_SCHEMA[column]
        expected.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        if dtype in _PANDAS_TYPES:
            expected.append(
                gxe.ExpectColumnValuesToBeOfType(column=column, type_=_PANDAS_TYPES[dtype])
            )
    expected += [
        gxe.ExpectColumnValuesToBeBetween(column=f, min_value=SECONDS_MIN, max_value=max_seconds)
        for f in FLAVOURS
    ]
    return expected


def _batch_expectations(gxe: Any, params: ValidationParams, rows: int) -> list[Any]:
    expected: list[Any] = [
        gxe.ExpectColumnValuesToBeBetween(column=ROWS, min_value=1),
        gxe.ExpectColumnValuesToBeBetween(
            column=QUARANTINE_SHARE, min_value=0, max_value=params.max_quarantine_share
        ),
    ]
    if rows >= params.min_rows_for_batch_checks:  # smaller batches are too noisy to judge
        expected += [
            gxe.ExpectColumnValuesToBeBetween(
                column=PURCHASE_RATE,
                min_value=params.purchase_rate_min,
                max_value=params.purchase_rate_max,
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column=ADS_PER_VISIT,
                min_value=params.ads_per_visit_min,
                max_value=params.ads_per_visit_max,
            ),
        ]
    return expected


def _outcome(item: Any, statistics: dict[str, float]) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    error = None
    info = item.exception_info or {}
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "the expectation raised")
    index = details.get("partial_unexpected_index_list") or []
    lines = [row[LINE] for row in index if isinstance(row, dict) and LINE in row]
    column = config.kwargs.get("column")
    observed = details.get("observed_value", statistics.get(column))
    if observed is None and "unexpected_count" in details:
        observed = f"{details['unexpected_count']} unexpected"
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(item.success) and error is None,
        observed=observed,
        unexpected_count=details.get("unexpected_count"),
        unexpected_lines=[int(line) for line in lines],
        error=error,
    )
