"""Drift detection: each test kind, the correction, the effect floors, the window minimum,
concept drift, input checks and the report's keys, on small synthetic visits."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from juice.monitoring.concept import Promise, check_concept
from juice.monitoring.drift import (
    AGE_TEST,
    SEX_TEST,
    WATCH_SHARE_TEST,
    WATCHED_SECONDS_TEST,
    detect_drift,
)
from juice.params import DriftParams
from juice.schema import AGE, FLAVOURS, LABEL, SEX, SexDtype

# The mechanics at a sensitivity where small windows show them (the defaults are tuned for
# a month of hourly checks: benchmarks/soak.py).
PARAMS = DriftParams(
    min_window_rows=500, min_labelled_rows=500, false_discovery_rate=0.025,
    min_share_difference=0.02, min_seconds_ks_statistic=0.05, confidence=0.95,
    stream_decides=True,
)  # fmt: skip


def visits(
    rows: int,
    seed: int,
    *,
    female: float = 0.5,
    age_shift: int = 0,
    watch: float = 0.3,
    mango_watch: float | None = None,
    mango_seconds: tuple[int, int] = (1, 60),
    exact: bool = False,
) -> pl.DataFrame:
    """Typed visits: every ad watched by a `watch` share for 1-60 s, unless mango says
    otherwise; `exact` makes each share exact instead of drawn."""
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(rows) < female, "F", "M")
    age = np.clip(18 + rng.gamma(2.0, 10.0, rows) + age_shift, 18, 100).astype(np.int16)
    columns = {}
    for flavour in FLAVOURS:
        share = mango_watch if flavour == "mango" and mango_watch is not None else watch
        low, high = mango_seconds if flavour == "mango" else (1, 60)
        if exact:
            watched = np.zeros(rows, dtype=bool)
            watched[rng.choice(rows, round(share * rows), replace=False)] = True
        else:
            watched = rng.random(rows) < share
        columns[flavour] = np.where(watched, rng.integers(low, high + 1, rows), 0).astype(np.int32)
    return pl.DataFrame({SEX: pl.Series(sex, dtype=SexDtype), AGE: age, **columns})


def the_test(report, feature: str, test: str):
    (found,) = [t for t in report.tests if t.feature == feature and t.test == test]
    return found


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return visits(4000, seed=1)


@pytest.mark.parametrize(
    ("shift", "feature", "test"),
    [
        ({"female": 0.62}, SEX, SEX_TEST),
        ({"age_shift": 6}, AGE, AGE_TEST),
        ({"mango_watch": 0.4}, "mango", WATCH_SHARE_TEST),
        ({"mango_seconds": (20, 79)}, "mango", WATCHED_SECONDS_TEST),
    ],
)
def test_each_test_kind_fires_on_its_planted_shift_only(reference, shift, feature, test):
    report = detect_drift(reference, visits(1000, seed=2, **shift), PARAMS)

    assert report.verdict == "drift"
    assert report.drift
    assert report.drifted_features == [feature]
    assert [(t.feature, t.test) for t in report.tests if t.drift] == [(feature, test)]
    fired = the_test(report, feature, test)
    assert fired.p_value < PARAMS.false_discovery_rate


def test_identical_distributions_are_stable(reference):
    report = detect_drift(reference, visits(1000, seed=3), PARAMS)

    assert report.verdict == "stable"
    assert not report.drift
    assert report.drifted_features == []
    kinds = {(t.feature, t.test) for t in report.tests}
    assert {(SEX, SEX_TEST), (AGE, AGE_TEST)} <= kinds
    assert {("mango", WATCH_SHARE_TEST), ("mango", WATCHED_SECONDS_TEST)} <= kinds
    assert len(report.tests) == 2 + 2 * len(FLAVOURS)
    assert all(t.p_value is not None and t.p_value >= 0.05 for t in report.tests)


def test_a_p_value_that_passes_alone_fails_after_the_correction():
    # Exact shares: 30% watch mango in the reference, 33% in the window, every other
    # share identical. Alone the difference is significant; among 48 tests it is not.
    reference = visits(4000, seed=4, exact=True)
    current = visits(2000, seed=5, mango_watch=0.33, exact=True)
    params = PARAMS.model_copy(update={"min_share_difference": 0.0})

    mango = the_test(detect_drift(reference, current, params), "mango", WATCH_SHARE_TEST)

    assert mango.raw_p_value < params.false_discovery_rate
    assert mango.p_value >= params.false_discovery_rate
    assert not mango.drift


def test_corrected_p_values_never_fall_below_raw_ones(reference):
    report = detect_drift(reference, visits(1000, seed=6, mango_watch=0.4), PARAMS)

    assert all(t.p_value >= t.raw_p_value for t in report.tests)
    assert max(t.p_value for t in report.tests) <= 1


def test_a_huge_window_with_a_trivial_shift_does_not_alarm():
    # 100,000 visits each side: one point more watch mango (30% -> 31%), highly
    # significant, too small to matter.
    reference = visits(100_000, seed=7, exact=True)
    current = visits(100_000, seed=8, mango_watch=0.31, exact=True)

    floored = detect_drift(reference, current, PARAMS)
    unfloored = detect_drift(
        reference, current, PARAMS.model_copy(update={"min_share_difference": 0})
    )

    mango = the_test(floored, "mango", WATCH_SHARE_TEST)
    assert mango.p_value < 1e-4
    assert mango.effect == pytest.approx(0.01)
    assert not mango.drift
    assert floored.verdict == "stable"
    assert unfloored.drifted_features == ["mango"]


def test_a_window_below_the_minimum_is_insufficient_data(reference):
    # Everyone in the window watched mango: a check that ignored the minimum would alarm.
    small = visits(100, seed=9, mango_watch=1.0)

    report = detect_drift(reference, small, PARAMS)

    assert report.verdict == "insufficient-data"
    assert not report.drift
    assert report.drifted_features == []
    assert report.tests == []
    assert report.window_rows == 100
    assert "100" in report.reason
    assert "500" in report.reason


def test_an_empty_window_is_insufficient_data(reference):
    report = detect_drift(reference, visits(0, seed=10), PARAMS)

    assert report.verdict == "insufficient-data"
    assert report.window_rows == 0


def test_the_seconds_test_is_skipped_with_a_reason_when_few_watch(reference):
    current = visits(1000, seed=11, mango_watch=0.01, exact=True)  # 10 watchers

    report = detect_drift(reference, current, PARAMS.model_copy(update={"min_watchers": 20}))

    seconds = the_test(report, "mango", WATCHED_SECONDS_TEST)
    assert seconds.p_value is None
    assert not seconds.drift
    assert "10 watchers" in seconds.skipped
    assert sum(t.p_value is not None for t in report.tests) == 2 * len(FLAVOURS) + 1
    assert report.drifted_features == ["mango"]  # the share test still runs: 30% -> 1%


# ---------------------------------------------------------------- concept drift


def labelled(rows: int, seed: int, *, reversed_: bool) -> tuple[pl.DataFrame, np.ndarray]:
    """Visits with the champion's probabilities and labels; reversed, the labels follow
    the opposite ranking (what drove purchase now puts people off)."""
    rng = np.random.default_rng(seed)
    probability = rng.uniform(0.05, 0.6, rows)
    truth = 0.65 - probability if reversed_ else probability
    frame = visits(rows, seed=seed).with_columns(pl.Series(LABEL, rng.random(rows) < truth))
    return frame, probability


@pytest.fixture(scope="module")
def test_average_precision() -> float:
    from sklearn.metrics import average_precision_score

    frame, probability = labelled(4000, seed=20, reversed_=False)
    return float(average_precision_score(frame[LABEL].to_numpy(), probability))


def test_reversed_labels_are_concept_drift(reference, test_average_precision):
    current, probability = labelled(1000, seed=21, reversed_=True)

    report = detect_drift(reference, current, PARAMS, probability, Promise(test_average_precision))

    assert report.concept_drift
    assert report.drift
    assert report.verdict == "drift"
    assert report.drifted_features == []  # who visits did not change
    assert report.concept.average_precision_dropped
    assert report.concept.log_loss_rose
    assert report.concept.rows == 1000
    assert "does worse" in report.reason


def test_labels_that_follow_the_champion_are_not_concept_drift(reference, test_average_precision):
    current, probability = labelled(1000, seed=22, reversed_=False)

    report = detect_drift(reference, current, PARAMS, probability, Promise(test_average_precision))

    assert not report.concept_drift
    assert report.verdict == "stable"
    concept = report.concept
    assert not (concept.average_precision_dropped)
    assert not (concept.log_loss_rose)
    assert not (concept.stream_fired)
    low, high = concept.average_precision_interval
    assert low <= concept.average_precision <= high


def test_the_streaming_detector_fires_after_a_change_part_way():
    before, p_before = labelled(1000, seed=23, reversed_=False)
    after, p_after = labelled(1000, seed=24, reversed_=True)
    labels = np.r_[before[LABEL].to_numpy(), after[LABEL].to_numpy()]

    changed = check_concept(labels, np.r_[p_before, p_after], PARAMS)
    steady = check_concept(before[LABEL].to_numpy(), p_before, PARAMS)

    assert changed.stream_fired
    assert changed.stream_rows > 1000
    assert not steady.stream_fired
    assert steady.stream_rows is None


def test_only_labelled_rows_are_judged_and_no_labels_means_no_concept_check(reference):
    current, probability = labelled(1000, seed=25, reversed_=False)
    partly = current.with_columns(
        pl.when(pl.int_range(pl.len()) < 600).then(pl.col(LABEL)).alias(LABEL)
    )

    judged = detect_drift(reference, partly, PARAMS, probability)
    unlabelled = detect_drift(reference, current.drop(LABEL), PARAMS, probability)
    too_few = detect_drift(
        reference, partly, PARAMS.model_copy(update={"min_labelled_rows": 700}), probability
    )

    assert judged.concept.rows == 600
    assert judged.concept.test_average_precision is None
    assert unlabelled.concept is None
    assert "no labels" in unlabelled.reason
    assert too_few.concept is None
    assert "600 labelled rows" in too_few.reason


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: f.drop("mango"), "lack column.*mango"),
        (
            lambda f: f.with_columns(
                pl.when(pl.col(AGE) == 30)
                .then(np.nan)
                .otherwise(pl.col(AGE).cast(pl.Float64))
                .alias(AGE)
            ),
            "NaN",
        ),
        (
            lambda f: f.with_columns(pl.when(pl.col(AGE) > 40).then(pl.col("lime")).alias("lime")),
            "lime.*missing",
        ),
        (lambda f: f.with_columns(pl.lit(-1, pl.Int32).alias("apple")), "negative"),
        (lambda f: f.with_columns(pl.lit("X").alias(SEX)), "sex"),
    ],
)
def test_bad_windows_are_refused_with_a_clear_reason(reference, spoil, message):
    current = visits(1000, seed=30)
    assert current[AGE].eq(30).any()  # the NaN case needs a 30-year-old to spoil

    with pytest.raises(ValueError, match=message):
        detect_drift(reference, spoil(current), PARAMS)


def test_an_empty_reference_is_refused(reference):
    with pytest.raises(ValueError, match="empty"):
        detect_drift(reference.head(0), visits(1000, seed=31), PARAMS)


def test_the_concept_check_refuses_unknown_or_one_sided_labels():
    with pytest.raises(ValueError, match="known outcome"):
        check_concept(np.array([1.0, np.nan, 0.0]), np.full(3, 0.3), PARAMS)
    with pytest.raises(ValueError, match="both outcomes"):
        check_concept(np.ones(50, dtype=bool), np.full(50, 0.3), PARAMS)


@pytest.mark.parametrize("probability", [np.full(999, 0.3), np.r_[np.full(999, 0.3), np.nan]])
def test_probabilities_must_match_the_window(reference, probability):
    with pytest.raises(ValueError, match="probabilit"):
        detect_drift(reference, visits(1000, seed=32), PARAMS, probability)


def test_params_refuse_unknown_keys():
    with pytest.raises(ValueError, match="alpha"):
        DriftParams(alpha=0.05)


# ---------------------------------------------------------------- the report


def test_the_report_has_the_drift_check_keys_and_is_plain_json(reference, test_average_precision):
    current, probability = labelled(1000, seed=40, reversed_=True)

    payload = detect_drift(
        reference, current, PARAMS, probability, Promise(test_average_precision)
    ).to_dict()

    assert {"verdict", "drift", "drifted_features", "concept_drift", "window_rows", "tests"} <= set(
        payload
    )
    assert payload["verdict"] == "drift"
    assert payload["concept_drift"] is True
    assert all(
        {"feature", "test", "statistic", "p_value", "effect", "drift"} <= set(test)
        for test in payload["tests"]
    )
    json.dumps(payload, allow_nan=False)  # plain types only, no NaN
    assert type(payload["tests"][0]["drift"]) is bool
    assert type(payload["tests"][0]["p_value"]) is float
