"""Validate a parsed batch with Great Expectations: row rules from the schema, plus
batch-level checks that catch an export that parses fine but is broken."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from juice.params import ValidationParams
from juice.schema import (
    DATASET_SCHEMA,
    FLAVOURS,
    LABEL,
    LINE,
    SEX,
    SEX_CODES,
    SOURCE,
    value_ranges,
)

# Batch statistics, validated as a one-row summary.
ROWS = "rows"
QUARANTINE_SHARE = "quarantine_share"
PURCHASE_RATE = "purchase_rate"
ADS_PER_VISIT = "ads_per_visit"
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
    profile: list[dict[str, Any]] = field(default_factory=list)  # one row per column

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

    @classmethod
    def read(cls, path: Path) -> ValidationReport:
        """A report as `write` left it."""
        content = json.loads(path.read_text())
        outcomes = [ExpectationOutcome(**outcome) for outcome in content.pop("outcomes")]
        return cls(**content, outcomes=outcomes)


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


def column_profile(batch: pl.DataFrame, max_seconds: int) -> pl.DataFrame:
    """One row per column of the batch (and per contract column it lacks), in order: its
    name and dtype beside the contract's, and what the row rules bound (nulls, values
    outside their set, duplicates, minimum and maximum beside the allowed range). One
    pass of polars over the rows; the suite then judges these few rows."""
    bounds = _bounds(max_seconds)
    columns = [name for name in batch.columns if name != SOURCE]
    measured = _measure(batch, columns, bounds)
    rows = []
    for position in range(max(len(columns), len(_VALIDATED))):
        name = columns[position] if position < len(columns) else None
        expected = _VALIDATED[position] if position < len(_VALIDATED) else None
        low, high = bounds.get(name or "", (None, None))
        rows.append(
            {
                COLUMN: name,
                EXPECTED: expected,
                DTYPE: str(batch.schema[name]) if name else None,
                EXPECTED_DTYPE: str(DATASET_SCHEMA[expected]) if expected else None,
                LOWEST: low,
                HIGHEST: high,
                **{kind: measured.get(f"{kind}:{name}") for kind in _MEASURES},
            }
        )
    return pl.DataFrame(rows, schema=_PROFILE_SCHEMA)


def _measure(
    batch: pl.DataFrame, columns: list[str], bounds: dict[str, tuple[int, int | None]]
) -> dict[str, Any]:
    """The row rules' figures of every column, in one pass: `{kind}:{column}` -> value."""
    numeric = [name for name in columns if name in bounds and batch.schema[name].is_numeric()]
    coded = [name for name in _CODES if name in columns]
    lines = [LINE] if LINE in columns else []
    return batch.select(
        *(pl.col(name).null_count().alias(f"{NULLS}:{name}") for name in columns),
        *(pl.col(name).min().cast(pl.Float64).alias(f"{MINIMUM}:{name}") for name in numeric),
        *(pl.col(name).max().cast(pl.Float64).alias(f"{MAXIMUM}:{name}") for name in numeric),
        *(
            (~pl.col(name).cast(pl.String).is_in(_CODES[name])).sum().alias(f"{OUTSIDE}:{name}")
            for name in coded
        ),
        *((pl.len() - pl.col(name).n_unique()).alias(f"{DUPLICATES}:{name}") for name in lines),
    ).row(0, named=True)


# The profile's columns.
COLUMN, EXPECTED, DTYPE, EXPECTED_DTYPE = "column", "expected", "dtype", "expected_dtype"
NULLS, OUTSIDE, DUPLICATES = "nulls", "outside_set", "duplicates"
MINIMUM, MAXIMUM, LOWEST, HIGHEST = "minimum", "maximum", "lowest", "highest"
_MEASURES = (NULLS, OUTSIDE, DUPLICATES, MINIMUM, MAXIMUM)
_PROFILE_SCHEMA = {
    **dict.fromkeys((COLUMN, EXPECTED, DTYPE, EXPECTED_DTYPE), pl.String),
    **dict.fromkeys((LOWEST, HIGHEST), pl.Float64),
    **dict.fromkeys((NULLS, OUTSIDE, DUPLICATES), pl.Int64),
    **dict.fromkeys((MINIMUM, MAXIMUM), pl.Float64),
}
_CODES: dict[str, list[str]] = {SEX: list(SEX_CODES), LABEL: ["true", "false"]}


def _bounds(max_seconds: int) -> dict[str, tuple[int, int | None]]:
    return {**value_ranges(max_seconds), LINE: (1, None)}


def validate_batch(
    batch: pl.DataFrame, *, name: str, lines_read: int, params: ValidationParams, max_seconds: int
) -> ValidationReport:
    """Runs the expectation suites over one parsed batch: the row rules on its column
    profile (the parser already enforced them line by line; stated on the profile they
    cost one pass of polars, not one of Great Expectations per rule and column), the batch
    rules on its one-row summary. A failing rule still names its columns and lines.

    Args:
        batch: the accepted rows, typed as `DATASET_SCHEMA`.
        name: the batch's name in the report.
        lines_read: data lines of the export, accepted or quarantined.
        params: batch-level bounds.
        max_seconds: the upper bound on seconds the parser applied.
    """
    gx, definitions = _great_expectations()
    profile = column_profile(batch, max_seconds)
    statistics = batch_statistics(batch, lines_read)
    checks = {
        "profile": (profile, _profile_expectations(gx.expectations), _BY_COLUMN),
        "summary": (
            pl.DataFrame([statistics]),
            _batch_expectations(gx.expectations, params, len(batch)),
            "SUMMARY",
        ),
    }
    outcomes = []
    with _LOCK:  # one Great Expectations context per process
        for asset, (frame, expectations, result_format) in checks.items():
            result = (
                definitions[asset]
                .get_batch(batch_parameters={"dataframe": frame.to_pandas()})
                .validate(
                    gx.ExpectationSuite(name=f"export_{asset}", expectations=expectations),
                    result_format=result_format,
                )
            )
            for item in result.results:
                if asset == "profile":
                    outcomes += _profile_outcomes(item, profile, batch, max_seconds)
                else:
                    outcomes.append(
                        _outcome(item, statistics.get(item.expectation_config.kwargs["column"]))
                    )
    return ValidationReport(
        batch=name,
        success=all(outcome.success for outcome in outcomes),
        rows=len(batch),
        lines_read=lines_read,
        outcomes=outcomes,
        profile=profile.to_dicts(),
    )


_LOCK = threading.Lock()
_BY_COLUMN = {"result_format": "COMPLETE", "unexpected_index_column_names": [COLUMN]}


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
        for asset in ("profile", "summary")
    }
    return gx, definitions


def _profile_expectations(gxe: Any) -> list[Any]:
    """The row rules, each over every column's profile row."""
    at_least = {"or_equal": True, "ignore_row_if": "either_value_is_missing"}
    return [
        gxe.ExpectColumnPairValuesToBeEqual(column_A=COLUMN, column_B=EXPECTED),
        gxe.ExpectColumnPairValuesToBeEqual(column_A=DTYPE, column_B=EXPECTED_DTYPE),
        gxe.ExpectColumnValuesToBeBetween(column=NULLS, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column=OUTSIDE, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column=DUPLICATES, max_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=MINIMUM, column_B=LOWEST, **at_least),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=HIGHEST, column_B=MAXIMUM, **at_least),
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


def _outcome(item: Any, observed: Any) -> ExpectationOutcome:
    """One expectation's verdict as Great Expectations gave it."""
    config = item.expectation_config
    details = item.result or {}
    info = item.exception_info or {}
    error = None
    if info.get("raised_exception"):
        error = str(info.get("exception_message") or "the expectation raised")
    return ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(item.success) and error is None,
        observed=details.get("observed_value", observed),
        unexpected_count=details.get("unexpected_count"),
        unexpected_lines=[],
        error=error,
    )


def _profile_outcomes(
    item: Any, profile: pl.DataFrame, batch: pl.DataFrame, max_seconds: int
) -> list[ExpectationOutcome]:
    """A row rule's verdict: one outcome if it held, else one per failing column, with
    what the profile shows of it and the lines that break it."""
    outcome = replace(_outcome(item, f"{len(profile)} columns"), column=None)
    # The profile rows that failed, by column name (pandas gives NaN for a lacking column).
    failing = [
        name if isinstance(name := row[COLUMN], str) else None
        for row in (item.result or {}).get("unexpected_index_list") or []
    ]
    if outcome.success or not failing:
        return [outcome]
    kwargs = item.expectation_config.kwargs
    reads = kwargs.get("column") or kwargs["column_A"]
    described = []
    for name in failing:
        seen = profile.row(by_predicate=_is(name), named=True)
        broken = _broken_rows(reads, name, max_seconds) if name in batch.columns else None
        offending = batch.filter(broken) if broken is not None else batch.clear()
        described.append(
            replace(
                outcome,
                column=name or seen[EXPECTED],
                observed={key: seen[key] for key in _SHOWN[reads]},
                unexpected_count=len(offending),
                unexpected_lines=offending[LINE].head(_NAMED_LINES).to_list(),
            )
        )
    return described


def _is(name: str | None) -> pl.Expr:
    return pl.col(COLUMN).is_null() if name is None else pl.col(COLUMN) == name


# What a failing profile rule shows of the column.
_SHOWN = {
    COLUMN: (COLUMN, EXPECTED), DTYPE: (DTYPE, EXPECTED_DTYPE), NULLS: (NULLS,),
    OUTSIDE: (OUTSIDE,), DUPLICATES: (DUPLICATES,), MINIMUM: (MINIMUM, LOWEST),
    HIGHEST: (MAXIMUM, HIGHEST),
}  # fmt: skip
_NAMED_LINES = 20  # as many offending lines as Great Expectations' SUMMARY lists


def _broken_rows(rule: str, column: str, max_seconds: int) -> pl.Expr | None:
    """The rows that break a profile rule in this column (None for a rule on the column's
    name or type)."""
    value = pl.col(column)
    low, high = _bounds(max_seconds).get(column, (None, None))
    return {
        NULLS: value.is_null(),
        OUTSIDE: ~value.cast(pl.String).is_in(_CODES.get(column, [])),
        DUPLICATES: value.is_duplicated(),
        MINIMUM: value < low if low is not None else None,
        HIGHEST: value > high if high is not None else None,
    }.get(rule)
