"""Drift of a window of visits from the champion's training data, feature by feature and in concept.

Feature drift: one two-sample test per column against the reference (the data the
champion trained on): `sex` by chi-square, `age` by Kolmogorov-Smirnov, and each ad,
zero-inflated, by two tests: the share of visitors who watched it (chi-square) and
the seconds watched among those who did (KS; KS on raw zeros is weak). All p-values
are corrected together (Benjamini-Hochberg); a test flags drift only when its
corrected p-value is below the false-discovery rate AND its effect reaches a floor,
so that a huge window does not alarm on a change too small to matter.

Concept drift, when the window has labels and the champion's probabilities: does the
champion do worse on these labels (`juice.monitoring.concept`)?

Each result holds numbers; `describe` and its kin turn them into the sentences people
read. Frouros stays behind this module and `concept`, imported only when a check runs
(about 2 s).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from juice.monitoring.concept import ConceptCheck, Promise, check_concept
from juice.monitoring.samples import checked_probability, feature_arrays, labels
from juice.params import DriftParams
from juice.schema import AGE, FEATURES, FEMALE_CODE, FLAVOURS, SEX

Verdict = Literal["drift", "stable", "insufficient-data"]

# Test names, as reported (and as the `test` label of the p-value gauge).
SEX_TEST = "chi-square"  # share of women
AGE_TEST = "ks"
WATCH_SHARE_TEST = "watch-share-chi-square"  # share of visitors who watched the ad
WATCHED_SECONDS_TEST = "watched-seconds-ks"  # seconds watched, among those who watched


@dataclass(frozen=True)
class TooFewWatchers:
    """Why a seconds test did not run: too few watchers of the ad on one side."""

    watchers: int
    side: str  # window | reference
    needed: int


@dataclass(frozen=True)
class FeatureTest:
    """One two-sample test of one column; `p_value` is the corrected one."""

    feature: str
    test: str
    statistic: float | None  # chi-square statistic or KS D; None when skipped
    p_value: float | None  # Benjamini-Hochberg corrected
    effect: float | None  # |share difference| for chi-square tests, KS D for KS tests
    drift: bool
    raw_p_value: float | None
    too_few: TooFewWatchers | None = None  # why the test did not run

    @property
    def skipped(self) -> str | None:
        """Why the test did not run, in words (None: it ran)."""
        if self.too_few is None:
            return None
        few = self.too_few
        return f"only {few.watchers} watchers in the {few.side}; the test needs {few.needed}"

    def to_dict(self) -> dict[str, Any]:
        shown = {key: value for key, value in asdict(self).items() if key != "too_few"}
        return {**shown, "skipped": self.skipped}


@dataclass(frozen=True)
class ConceptNotChecked:
    """Why there is no concept check: no probabilities, no labels, or too few of them."""

    why: Literal["no-probabilities", "no-labels", "too-few-labels"]
    labelled: int = 0
    purchases: int = 0
    needed: int = 0


@dataclass(frozen=True)
class DriftReport:
    """The verdict of one drift check; `to_dict` gives `juice drift-check --json`'s keys."""

    verdict: Verdict
    drift: bool
    drifted_features: list[str]
    concept_drift: bool
    window_rows: int
    reference_rows: int
    tests: list[FeatureTest]
    concept: ConceptCheck | None
    needed_rows: int = 0  # in the window and the reference, for a verdict
    false_discovery_rate: float = 0.0  # at which the feature tests were judged
    concept_not_checked: ConceptNotChecked | None = None

    @property
    def reason(self) -> str:
        return describe(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "drift": self.drift,
            "drifted_features": list(self.drifted_features),
            "concept_drift": self.concept_drift,
            "window_rows": self.window_rows,
            "reference_rows": self.reference_rows,
            "tests": [test.to_dict() for test in self.tests],
            "concept": self.concept.to_dict() if self.concept else None,
            "reason": self.reason,
        }


def detect_drift(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    params: DriftParams,
    probability: np.ndarray | None = None,
    promise: Promise | None = None,
    threshold: float | None = None,
) -> DriftReport:
    """Compares a window of visits with the reference the champion trained on.

    Args:
        reference: typed visits (schema dtypes) the champion was trained on.
        current: typed visits of the window; `purchased` may be absent or partly null.
        params: thresholds of the check.
        probability: the champion's purchase probability for each row of `current`, in
            order; with labels, it enables the concept-drift check.
        promise: what the champion showed on its test data (its card): its average
            precision, how far its probabilities were off; without it the
            average-precision comparison is left out.
        threshold: the champion's decision threshold; without it the precision it
            realised on the visitors it targeted is not compared with what it expected.

    Raises:
        ValueError: a missing column, a null, NaN or out-of-range value, an empty
            reference, or probabilities that do not match the window.
    """
    ref = feature_arrays(reference, "reference")
    cur = feature_arrays(current, "current")
    if len(reference) == 0:
        raise ValueError("the reference is empty: no training data to compare with")
    outcomes = labels(current)
    if probability is not None:
        probability = checked_probability(probability, len(current))
    promised = promise.average_precision if promise else None
    if promised is not None and not 0 <= promised <= 1:
        raise ValueError(f"test average precision {promised} is not in [0, 1]")
    rows, needed = (len(current), len(reference)), params.min_window_rows
    if min(rows) < needed:
        return DriftReport("insufficient-data", False, [], False, *rows, [], None, needed)
    tests = _feature_tests(ref, cur, params)
    drifted = [name for name in FEATURES if any(t.drift for t in tests if t.feature == name)]
    concept, not_checked = _concept(outcomes, probability, params, promise, threshold)
    concept_drift = concept is not None and concept.drift
    drift = bool(drifted) or concept_drift
    return DriftReport(
        verdict="drift" if drift else "stable",
        drift=drift,
        drifted_features=drifted,
        concept_drift=concept_drift,
        window_rows=rows[0],
        reference_rows=rows[1],
        tests=tests,
        concept=concept,
        needed_rows=needed,
        false_discovery_rate=params.false_discovery_rate,
        concept_not_checked=not_checked,
    )


def _concept(
    outcomes: np.ndarray | None,
    probability: np.ndarray | None,
    params: DriftParams,
    promise: Promise | None,
    threshold: float | None,
) -> tuple[ConceptCheck | None, ConceptNotChecked | None]:
    """The concept check on the window's labelled rows, or why there is none."""
    if probability is None:
        return None, ConceptNotChecked("no-probabilities")
    if outcomes is None:
        return None, ConceptNotChecked("no-labels")
    known = ~np.isnan(outcomes)
    known[np.flatnonzero(known)[: -params.concept_visits]] = False  # the newest labelled ones
    bought = outcomes[known].astype(bool)
    if known.sum() < params.min_labelled_rows or bought.all() or not bought.any():
        needed = params.min_labelled_rows
        return None, ConceptNotChecked(
            "too-few-labels", int(known.sum()), int(bought.sum()), needed
        )
    check = check_concept(bought, probability[known], params, promise, threshold)
    return check, None


def describe(report: DriftReport) -> str:
    """The verdict in words: what changed, or why there is no verdict."""
    if report.verdict == "insufficient-data":
        too_small = [
            f"the {role} has {rows:,} visits, fewer than the {report.needed_rows:,} a check needs"
            for role, rows in (("window", report.window_rows), ("reference", report.reference_rows))
            if rows < report.needed_rows
        ]
        return f"insufficient data: {' and '.join(too_small)}"
    if report.drifted_features:
        features = (
            f"{len(report.drifted_features)} feature(s) changed "
            f"({', '.join(report.drifted_features)})"
        )
    else:
        ran = sum(t.p_value is not None for t in report.tests)
        features = (
            f"no feature changed beyond chance and its effect floor "
            f"({ran} tests at false-discovery rate {report.false_discovery_rate:g})"
        )
    concept = report.concept.reason if report.concept else _not_checked(report.concept_not_checked)
    return f"{report.verdict}: {features}; {concept}"


def _not_checked(why: ConceptNotChecked | None) -> str:
    if why is None or why.why == "no-probabilities":
        return "concept drift not checked: no champion probabilities were given"
    if why.why == "no-labels":
        return "concept drift not checked: the window has no labels"
    return (
        f"concept drift not checked: {why.labelled:,} labelled rows ({why.purchases:,} "
        f"purchases); it needs {why.needed:,} with both outcomes"
    )


# ---------------------------------------------------------------- feature tests


def _feature_tests(
    ref: dict[str, np.ndarray], cur: dict[str, np.ndarray], params: DriftParams
) -> list[FeatureTest]:
    """Every test in schema order, p-values corrected together."""
    # (feature, test, statistic, raw p, effect), or why the test did not run
    runs: list[tuple[str, str, float, float, float] | tuple[str, str, TooFewWatchers]] = []
    runs.append((SEX, SEX_TEST, *_chi_square(ref[SEX] == FEMALE_CODE, cur[SEX] == FEMALE_CODE)))
    runs.append((AGE, AGE_TEST, *_ks(ref[AGE], cur[AGE])))
    for flavour in FLAVOURS:
        ref_watched, cur_watched = ref[flavour] > 0, cur[flavour] > 0
        runs.append((flavour, WATCH_SHARE_TEST, *_chi_square(ref_watched, cur_watched)))
        fewest = min(int(ref_watched.sum()), int(cur_watched.sum()))
        if fewest < params.min_watchers:
            side = "window" if cur_watched.sum() == fewest else "reference"
            too_few = TooFewWatchers(fewest, side, params.min_watchers)
            runs.append((flavour, WATCHED_SECONDS_TEST, too_few))
        else:
            seconds = _ks(ref[flavour][ref_watched], cur[flavour][cur_watched])
            runs.append((flavour, WATCHED_SECONDS_TEST, *seconds))

    from scipy.stats import false_discovery_control

    raw = np.array([run[3] for run in runs if len(run) == 5], dtype=float)
    corrected = iter(false_discovery_control(raw, method="bh") if len(raw) else [])
    tests = []
    for run in runs:
        if len(run) == 3:
            feature, test, why = run
            tests.append(FeatureTest(feature, test, None, None, None, False, None, too_few=why))
            continue
        feature, test, statistic, raw_p, effect = run
        p_value = float(next(corrected))
        floor = _floor(test, params)
        drift = p_value < params.false_discovery_rate and effect >= floor
        tests.append(FeatureTest(feature, test, statistic, p_value, effect, drift, raw_p))
    return tests


def _floor(test: str, params: DriftParams) -> float:
    """The effect a test must reach to flag drift: a share difference, or a KS statistic."""
    return {
        SEX_TEST: params.min_share_difference,
        WATCH_SHARE_TEST: params.min_share_difference,
        AGE_TEST: params.min_ks_statistic,
        WATCHED_SECONDS_TEST: params.min_seconds_ks_statistic,
    }[test]


def _chi_square(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """Chi-square on a yes/no column: statistic, p-value, |difference in the share of yes|."""
    from frouros.detectors.data_drift import ChiSquareTest

    detector = ChiSquareTest()
    detector.fit(X=reference)
    result, _ = detector.compare(X=current)
    effect = abs(float(current.mean()) - float(reference.mean()))
    return float(result.statistic), float(result.p_value), effect


def _ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """Two-sample KS: statistic, p-value, and the statistic again as the effect."""
    from frouros.detectors.data_drift import KSTest

    detector = KSTest()
    detector.fit(X=reference.astype(np.float64))
    result, _ = detector.compare(X=current.astype(np.float64))
    return float(result.statistic), float(result.p_value), float(result.statistic)
