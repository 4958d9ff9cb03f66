"""Great Expectations: a broken export that parses fine does not pass."""

from __future__ import annotations

import json

import polars as pl
import pytest

from juice.data.simulator import simulate
from juice.data.validation import validate_batch
from juice.params import ValidationParams
from juice.schema import DATASET_SCHEMA, FLAVOURS

PARAMS = ValidationParams(min_rows_for_batch_checks=500)


def batch(rows: int = 1000, seed: int = 0) -> pl.DataFrame:
    visits = simulate(rows, seed).drop("true_probability")
    return visits.with_columns(
        pl.lit("e.csv").alias("source"), pl.int_range(1, rows + 1, dtype=pl.Int64).alias("line")
    )


def check(frame: pl.DataFrame, lines_read: int | None = None):
    return validate_batch(
        frame, name="e.csv", lines_read=lines_read or len(frame), params=PARAMS, max_seconds=3600
    )


def failed(report) -> set[tuple[str, str | None]]:
    return {(outcome.expectation, outcome.column) for outcome in report.failures}


def test_a_clean_batch_passes_every_expectation():
    report = check(batch())
    assert report.success, report.summary()
    assert len(report.outcomes) == 7 + 4  # the row rules on the profile, the batch rules
    assert [row["column"] for row in report.profile] == [c for c in DATASET_SCHEMA if c != "source"]


def with_line(frame, column, value, line=7):
    dtype = frame.schema[column]
    changed = pl.when(pl.col("line") == line).then(pl.lit(value)).otherwise(pl.col(column))
    return frame.with_columns(changed.cast(dtype).alias(column))


@pytest.mark.parametrize(
    ("broken", "rule", "column", "lines"),
    [
        (lambda f: with_line(f, "age", None), "expect_column_values_to_be_between", "age", [7]),
        (lambda f: with_line(f, "age", 12), "expect_column_pair_values_a_to_be_greater_than_b",
         "age", [7]),
        (lambda f: with_line(f, "line", 8), "expect_column_values_to_be_between", "line", [8, 8]),
        (lambda f: with_line(f.with_columns(pl.col("sex").cast(pl.String)), "sex", "X"),
         "expect_column_values_to_be_between", "sex", [7]),
        (lambda f: f.with_columns(pl.col("age").cast(pl.Int64)),
         "expect_column_pair_values_to_be_equal", "age", []),
        (lambda f: f.drop("age"), "expect_column_pair_values_to_be_equal", "apple", []),
    ],
)  # fmt: skip
def test_each_row_rule_names_its_column_and_lines(broken, rule, column, lines):
    report = check(broken(batch()))
    assert not report.success
    named = {(o.expectation, o.column): o.unexpected_lines for o in report.failures}
    assert named[(rule, column)] == lines


def test_all_zero_ad_columns_fail_the_batch():
    report = check(batch().with_columns(pl.lit(0, pl.Int32).alias(f) for f in FLAVOURS))
    assert not report.success
    assert ("expect_column_values_to_be_between", "ads_per_visit") in failed(report)


@pytest.mark.parametrize("rate", [0.0, 0.9])
def test_an_implausible_purchase_rate_fails_the_batch(rate):
    frame = batch()
    frame = frame.with_columns((pl.int_range(pl.len()) < rate * len(frame)).alias("purchased"))
    assert ("expect_column_values_to_be_between", "purchase_rate") in failed(check(frame))


def test_too_many_quarantined_lines_fail_the_batch():
    report = check(batch(), lines_read=1200)  # 200 of 1200 lines set aside
    assert ("expect_column_values_to_be_between", "quarantine_share") in failed(report)


def test_the_quarantine_limit_is_inclusive():
    assert check(batch(950), lines_read=1000).success  # exactly 5% set aside: allowed
    assert ("expect_column_values_to_be_between", "quarantine_share") in failed(
        check(batch(949), lines_read=1000)
    )


def test_batch_checks_wait_for_enough_rows():
    small = batch(rows=100).with_columns(pl.lit(True).alias("purchased"))
    assert check(small).success


def test_a_row_rule_names_the_offending_lines():
    frame = batch().with_columns(
        pl.when(pl.col("line") == 7)
        .then(5000)
        .otherwise(pl.col("mango"))
        .cast(pl.Int32)
        .alias("mango")
    )
    report = check(frame)
    [outcome] = report.failures
    assert (outcome.column, outcome.unexpected_lines) == ("mango", [7])
    assert "mango" in report.summary()


def test_report_is_readable_json(tmp_path):
    path = check(batch(rows=100)).write(tmp_path / "r.json")
    content = json.loads(path.read_text())
    assert content["success"] is True
    assert content["rows"] == 100
    assert {"expectation", "column", "success", "observed"} <= set(content["outcomes"][0])
