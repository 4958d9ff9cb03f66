"""Validate a parsed batch with Great Expectations: row rules from the schema, plus
batch-level checks that catch an export that parses fine but is broken."""

from __future__ import annotations

import json
import math
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
)

ADS_WATCHED = "ads_watched"  # derived: how many ads a visit watched
# Integers are widened to int64 for validation: GE's range checks are 30x slower on int32.
_PANDAS_TYPES = {pl.Int16: "int64", pl.Int32: "int64", pl.Int64: "int64", pl.Boolean: "bool"}


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


def validate_batch(
    batch: pl.DataFrame, *, name: str, lines_read: int, params: ValidationParams, max_seconds: int
) -> ValidationReport:
    """Runs the expectation suite over one parsed batch.

    Args:
        batch: the accepted rows, typed as `DATASET_SCHEMA`.
        name: the batch's name in the report.
        lines_read: data lines of the export, accepted or quarantined.
        params: batch-level bounds.
        max_seconds: the upper bound on seconds the parser applied.
    """
    import great_expectations as gx  # 7-11 s to import: only when validating

    frame = batch.with_columns(
        pl.col(SEX).cast(pl.String),
        pl.col(pl.Int16, pl.Int32).cast(pl.Int64),
        pl.sum_horizontal(pl.col(FLAVOURS) > 0).cast(pl.Int64).alias(ADS_WATCHED),
    ).to_pandas()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    definition = (
        context.data_sources.add_pandas("exports")
        .add_dataframe_asset("batch")
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = gx.ExpectationSuite(
        name="analytics_export",
        expectations=_expectations(gx.expectations, len(batch), lines_read, params, max_seconds),
    )
    result = definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format={"result_format": "SUMMARY", "unexpected_index_column_names": [LINE]}
    )
    outcomes = [_outcome(item) for item in result.results]
    return ValidationReport(
        batch=name,
        success=all(outcome.success for outcome in outcomes),
        rows=len(batch),
        lines_read=lines_read,
        outcomes=outcomes,
    )


def _expectations(
    gxe: Any, rows: int, lines_read: int, params: ValidationParams, max_seconds: int
) -> list[Any]:
    columns = [*DATASET_SCHEMA, ADS_WATCHED]
    expected: list[Any] = [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=columns),
        # At most the allowed share of the export's lines may have been quarantined.
        gxe.ExpectTableRowCountToBeBetween(
            min_value=max(1, math.ceil(lines_read * (1 - params.max_quarantine_share)))
        ),
        gxe.ExpectColumnValuesToBeUnique(column=LINE),
        gxe.ExpectColumnValuesToBeInSet(column=SEX, value_set=list(SEX_CODES)),
        gxe.ExpectColumnValuesToBeOfType(column=SEX, type_="str"),
        gxe.ExpectColumnValuesToBeBetween(column=AGE, min_value=AGE_MIN, max_value=AGE_MAX),
        gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=[True, False]),
    ]
    for column, dtype in DATASET_SCHEMA.items():
        expected.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        if dtype in _PANDAS_TYPES:
            expected.append(
                gxe.ExpectColumnValuesToBeOfType(column=column, type_=_PANDAS_TYPES[dtype])
            )
    expected += [
        gxe.ExpectColumnValuesToBeBetween(column=f, min_value=SECONDS_MIN, max_value=max_seconds)
        for f in FLAVOURS
    ]
    if rows >= params.min_rows_for_batch_checks:
        expected += [
            gxe.ExpectColumnMeanToBeBetween(
                column=LABEL, min_value=params.purchase_rate_min, max_value=params.purchase_rate_max
            ),
            gxe.ExpectColumnMeanToBeBetween(
                column=ADS_WATCHED,
                min_value=params.ads_per_visit_min,
                max_value=params.ads_per_visit_max,
            ),
        ]
    return expected


def _outcome(item: Any) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    error = None
    info = item.exception_info or {}
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "the expectation raised")
    lines = [row[LINE] for row in details.get("partial_unexpected_index_list") or [] if LINE in row]
    observed = details.get("observed_value")
    if observed is None and "unexpected_count" in details:
        observed = f"{details['unexpected_count']} unexpected"
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(item.success) and error is None,
        observed=observed,
        unexpected_count=details.get("unexpected_count"),
        unexpected_lines=[int(line) for line in lines],
        error=error,
    )
