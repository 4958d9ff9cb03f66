"""Validate a parsed batch with Great Expectations: row rules from the schema, plus
batch-level checks that catch an export that parses fine but is broken."""

from __future__ import annotations

import functools
import json
import threading
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
# The pandas dtype each dataset dtype arrives as.
_PANDAS_TYPES: dict[pl.DataType | type[pl.DataType], str] = {
    pl.Int16: "int16",
    pl.Int32: "int32",
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
    """Runs the expectation suites over one parsed batch: row rules as aggregates of its
    rows (a column's minimum, maximum, distinct values, share of nulls), batch rules on its
    one-row summary. The parser already enforces the row rules line by line, so they are
    stated as aggregates, which cost one pass each; a failing one still names its rows.

    Args:
        batch: the accepted rows, typed as `DATASET_SCHEMA`.
        name: the batch's name in the report.
        lines_read: data lines of the export, accepted or quarantined.
        params: batch-level bounds.
        max_seconds: the upper bound on seconds the parser applied.
    """
    gx, definitions = _great_expectations()
    statistics = batch_statistics(batch, lines_read)
    frames = {
        # The source column is lineage we wrote ourselves, and the costliest to hand to pandas.
        "rows": batch.drop(SOURCE).to_pandas(),
        "summary": pl.DataFrame([statistics]).to_pandas(),
    }
    suites = {
        "rows": _row_expectations(gx.expectations, max_seconds),
        "summary": _batch_expectations(gx.expectations, params, len(batch)),
    }
    outcomes = []
    with _LOCK:  # one Great Expectations context per process
        for asset, expectations in suites.items():
            result = (
                definitions[asset]
                .get_batch(batch_parameters={"dataframe": frames[asset]})
                .validate(
                    gx.ExpectationSuite(name=f"export_{asset}", expectations=expectations),
                    result_format="SUMMARY",
                )
            )
            outcomes += [_outcome(item, statistics, batch) for item in result.results]
    return ValidationReport(
        batch=name,
        success=all(outcome.success for outcome in outcomes),
        rows=len(batch),
        lines_read=lines_read,
        outcomes=outcomes,
    )


_LOCK = threading.Lock()


@functools.cache
def _great_expectations() -> tuple[Any, dict[str, Any]]:
    """Great Expectations and its batch definitions, set up once per process (importing
    it takes seconds, and so does a context)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("exports")
    definitions = {
        asset: source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe("all")
        for asset in ("rows", "summary")
    }
    return gx, definitions


def _row_expectations(gxe: Any, max_seconds: int) -> list[Any]:
    expected: list[Any] = [
        gxe.ExpectTableColumnsToMatchOrderedList(column_list=_VALIDATED),
        gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(column=LINE, min_value=1),
        gxe.ExpectColumnDistinctValuesToBeInSet(column=SEX, value_set=list(SEX_CODES)),
        gxe.ExpectColumnValuesToBeOfType(column=SEX, type_="CategoricalDtypeType"),
        gxe.ExpectColumnDistinctValuesToBeInSet(column=LABEL, value_set=[True, False]),
        *_between(gxe, AGE, AGE_MIN, AGE_MAX),
    ]
    for column in _VALIDATED:
        dtype = DATASET_SCHEMA[column]
        expected.append(
            gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column=column, min_value=1)
        )
        if dtype in _PANDAS_TYPES:
            expected.append(
                gxe.ExpectColumnValuesToBeOfType(column=column, type_=_PANDAS_TYPES[dtype])
            )
    for flavour in FLAVOURS:
        expected += _between(gxe, flavour, SECONDS_MIN, max_seconds)
    return expected


def _between(gxe: Any, column: str, low: int, high: int) -> list[Any]:
    """Every value of the column within [low, high]: its minimum and its maximum."""
    return [
        gxe.ExpectColumnMinToBeBetween(column=column, min_value=low, max_value=high),
        gxe.ExpectColumnMaxToBeBetween(column=column, min_value=low, max_value=high),
    ]


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


def _outcome(item: Any, statistics: dict[str, float], batch: pl.DataFrame) -> ExpectationOutcome:
    config = item.expectation_config
    details = item.result or {}
    error = None
    info = item.exception_info or {}
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "the expectation raised")
    column = config.kwargs.get("column")
    observed = details.get("observed_value", statistics.get(column))
    count, lines = details.get("unexpected_count"), []
    if not item.success and (broken := _broken_rows(config.type, config.kwargs)) is not None:
        offending = batch.filter(broken)
        count, lines = len(offending), offending[LINE].head(_NAMED_LINES).to_list()
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(item.success) and error is None,
        observed=observed,
        unexpected_count=count,
        unexpected_lines=lines,
        error=error,
    )


_NAMED_LINES = 20  # as many offending lines as Great Expectations' SUMMARY lists


def _broken_rows(expectation: str, kwargs: dict[str, Any]) -> pl.Expr | None:
    """The rows that make an aggregate row rule fail (None for rules on the whole column)."""
    value = pl.col(kwargs["column"]) if "column" in kwargs else None
    if value is None or "_to_be_of_type" in expectation:
        return None
    if expectation.startswith(("expect_column_min_", "expect_column_max_")):
        return ~value.is_between(kwargs["min_value"], kwargs["max_value"])
    if expectation == "expect_column_distinct_values_to_be_in_set":
        return ~value.is_in(kwargs["value_set"])
    if expectation == "expect_column_proportion_of_non_null_values_to_be_between":
        return value.is_null()
    if expectation == "expect_column_proportion_of_unique_values_to_be_between":
        return value.is_duplicated()
    return None
