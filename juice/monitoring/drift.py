"""Drift of a window of visits from the champion's training data, feature by feature and in concept.

Feature drift: one two-sample test per column against the reference (the data the
champion trained on): `sex` by chi-square, `age` by Kolmogorov-Smirnov, and each ad,
zero-inflated, by two tests: the share of visitors who watched it (chi-square) and
the seconds watched among those who did (KS; KS on raw zeros is weak). All p-values
are corrected together (Benjamini-Hochberg); a test flags drift only when its
corrected p-value is below the false-discovery rate AND its effect reaches a floor,
so that a huge window does not alarm on a change too small to matter.

Concept drift, when the window has labels and the champion's probabilities: does the
champion do worse on these labels? Three views: a bootstrap interval of the window's
average precision against the champion's test figure; a bootstrap interval of the
log-loss in excess of the log-loss the champion expects of itself on these very rows
(the mean binary entropy of its probabilities: unlike average precision it does not
move when only who visits changes); and a Page-Hinkley detector over the per-row Brier
excess, in arrival order, for a change part-way through the window.

Frouros stays behind this module and is imported only when a check runs (about 2 s).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from juice.params import DriftParams
from juice.schema import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    FEATURES,
    FEMALE_CODE,
    FLAVOURS,
    LABEL,
    SEX,
    SEX_CODES,
)

Verdict = Literal["drift", "stable", "insufficient-data"]

# Test names, as reported (and as the `test` label of the p-value gauge).
SEX_TEST = "chi-square"  # share of women
AGE_TEST = "ks"
WATCH_SHARE_TEST = "watch-share-chi-square"  # share of visitors who watched the ad
WATCHED_SECONDS_TEST = "watched-seconds-ks"  # seconds watched, among those who watched
_SHARE_TESTS = (SEX_TEST, WATCH_SHARE_TEST)

_EPSILON = 1e-15  # probabilities are clipped to [eps, 1 - eps] for the log-loss
_BOOTSTRAP_CELLS = 2_000_000  # resamples x rows held in memory at once


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
    skipped: str | None = None  # why the test did not run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConceptCheck:
    """How the champion does on the window's labels, against what it promised."""

    rows: int  # labelled rows judged
    purchase_rate: float
    average_precision: float
    average_precision_interval: tuple[float, float]
    test_average_precision: float | None  # from the champion's card; None: not compared
    average_precision_dropped: bool
    log_loss: float
    expected_log_loss: float  # the champion's own expectation: mean entropy of its probabilities
    log_loss_excess_interval: tuple[float, float]  # of log_loss - expected_log_loss
    log_loss_rose: bool
    stream_fired: bool
    stream_rows: int | None  # labelled rows read when the streaming detector fired
    drift: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    reason: str

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
    test_average_precision: float | None = None,
) -> DriftReport:
    """Compares a window of visits with the reference the champion trained on.

    Args:
        reference: typed visits (schema dtypes) the champion was trained on.
        current: typed visits of the window; `purchased` may be absent or partly null.
        params: thresholds of the check.
        probability: the champion's purchase probability for each row of `current`, in
            order; with labels, it enables the concept-drift check.
        test_average_precision: the champion's average precision on its test data (its
            card); without it the average-precision comparison is left out.

    Raises:
        ValueError: a missing column, a null, NaN or out-of-range value, an empty
            reference, or probabilities that do not match the window.
    """
    ref = _feature_arrays(reference, "reference")
    cur = _feature_arrays(current, "current")
    if len(reference) == 0:
        raise ValueError("the reference is empty: no training data to compare with")
    labels = _labels(current)
    if probability is not None:
        probability = _checked_probability(probability, len(current))
    if test_average_precision is not None and not 0 <= test_average_precision <= 1:
        raise ValueError(f"test average precision {test_average_precision} is not in [0, 1]")

    too_small = [
        f"the {role} has {rows:,} visits, fewer than the {params.min_window_rows:,} a check needs"
        for role, rows in (("window", len(current)), ("reference", len(reference)))
        if rows < params.min_window_rows
    ]
    if too_small:
        return DriftReport(
            verdict="insufficient-data",
            drift=False,
            drifted_features=[],
            concept_drift=False,
            window_rows=len(current),
            reference_rows=len(reference),
            tests=[],
            concept=None,
            reason=f"insufficient data: {' and '.join(too_small)}",
        )

    tests = _feature_tests(ref, cur, params)
    drifted = [name for name in FEATURES if any(t.drift for t in tests if t.feature == name)]

    concept, concept_note = None, ""
    if probability is None:
        concept_note = "concept drift not checked: no champion probabilities were given"
    elif labels is None:
        concept_note = "concept drift not checked: the window has no labels"
    else:
        known = ~np.isnan(labels)
        outcomes = labels[known].astype(bool)
        if known.sum() < params.min_labelled_rows or outcomes.all() or not outcomes.any():
            concept_note = (
                f"concept drift not checked: {int(known.sum()):,} labelled rows "
                f"({int(outcomes.sum()):,} purchases); it needs {params.min_labelled_rows:,} "
                "with both outcomes"
            )
        else:
            concept = check_concept(outcomes, probability[known], params, test_average_precision)
            concept_note = concept.reason

    concept_drift = concept is not None and concept.drift
    drift = bool(drifted) or concept_drift
    ran = sum(t.p_value is not None for t in tests)
    if drifted:
        features = f"{len(drifted)} feature(s) changed ({', '.join(drifted)})"
    else:
        features = (
            f"no feature changed beyond chance and its effect floor "
            f"({ran} tests at false-discovery rate {params.false_discovery_rate:g})"
        )
    return DriftReport(
        verdict="drift" if drift else "stable",
        drift=drift,
        drifted_features=drifted,
        concept_drift=concept_drift,
        window_rows=len(current),
        reference_rows=len(reference),
        tests=tests,
        concept=concept,
        reason=f"{'drift' if drift else 'stable'}: {features}; {concept_note}",
    )


def check_concept(
    labels: np.ndarray,
    probability: np.ndarray,
    params: DriftParams,
    test_average_precision: float | None = None,
) -> ConceptCheck:
    """Does the champion do worse on these labels than it promised? Rows in arrival order.

    Args:
        labels: purchased or not, one per row, no missing values, both outcomes present.
        probability: the champion's purchase probability for each row.
        params: bootstrap, tolerances and the streaming detector's settings.
        test_average_precision: the champion's test figure; None leaves that view out.
    """
    given = np.asarray(labels)
    if given.ndim != 1 or (given.dtype.kind == "f" and np.isnan(given).any()):
        raise ValueError("labels must be one known outcome per row")
    y = given.astype(bool)
    p = _checked_probability(probability, len(y))
    if y.all() or not y.any():
        raise ValueError("the concept check needs both outcomes among the labels")
    clipped = np.clip(p, _EPSILON, 1 - _EPSILON)
    log_loss = -np.where(y, np.log(clipped), np.log1p(-clipped))
    entropy = -(clipped * np.log(clipped) + (1 - clipped) * np.log1p(-clipped))
    excess = log_loss - entropy
    rng = np.random.default_rng(params.seed)
    ap_samples, excess_samples = _bootstrap(y, p, excess, params.bootstrap, rng)
    tails = [(1 - params.confidence) / 2, (1 + params.confidence) / 2]
    ap_low, ap_high = (float(q) for q in np.quantile(ap_samples, tails))
    ll_low, ll_high = (float(q) for q in np.quantile(excess_samples, tails))

    dropped = (
        test_average_precision is not None
        and ap_high < test_average_precision - params.average_precision_tolerance
    )
    rose = ll_low > params.log_loss_tolerance
    fired_at = detect_error_rise(y, p, params)
    drift = dropped or rose or (params.stream_decides and fired_at is not None)

    average_precision = _average_precision(y, p)
    findings = []
    if dropped:
        findings.append(
            f"average precision {average_precision:.3f} (at most {ap_high:.3f}) "
            f"against {test_average_precision:.3f} on test data"
        )
    if rose:
        findings.append(
            f"log-loss {log_loss.mean():.3f} against the {entropy.mean():.3f} it expects "
            f"(excess at least {ll_low:+.3f})"
        )
    if fired_at is not None:
        findings.append(f"its errors rose part-way through, after {fired_at:,} rows")
    if drift:
        reason = f"the champion does worse on {len(y):,} labelled rows: {'; '.join(findings)}"
    else:
        compared = (
            f"average precision {average_precision:.3f} vs {test_average_precision:.3f} on test, "
            if test_average_precision is not None
            else f"average precision {average_precision:.3f}, "
        )
        reason = (
            f"the champion does as well as it promised on {len(y):,} labelled rows ({compared}"
            f"log-loss {log_loss.mean():.3f} vs {entropy.mean():.3f} expected)"
            + (f"; its errors rose after {fired_at:,} rows" if fired_at is not None else "")
        )
    return ConceptCheck(
        rows=len(y),
        purchase_rate=float(y.mean()),
        average_precision=average_precision,
        average_precision_interval=(ap_low, ap_high),
        test_average_precision=test_average_precision,
        average_precision_dropped=bool(dropped),
        log_loss=float(log_loss.mean()),
        expected_log_loss=float(entropy.mean()),
        log_loss_excess_interval=(ll_low, ll_high),
        log_loss_rose=bool(rose),
        stream_fired=fired_at is not None,
        stream_rows=fired_at,
        drift=bool(drift),
        reason=reason,
    )


def detect_error_rise(
    labels: np.ndarray, probability: np.ndarray, params: DriftParams
) -> int | None:
    """Rows read when Page-Hinkley saw the champion's per-row error rise, or None.

    The error is the Brier excess (y - p)^2 - p(1 - p): its mean is 0 while the
    champion's probabilities are right, whoever visits, so a change in who visits does
    not move it; a change in what makes them buy does. The detector compares the stream
    with its own past, so it finds a change part-way through the rows, not a window
    that is different from its first row on (the bootstrap views catch that).
    """
    from frouros.detectors.concept_drift import PageHinkley, PageHinkleyConfig

    y = np.asarray(labels, dtype=np.float64)
    p = _checked_probability(probability, len(y))
    detector = PageHinkley(
        PageHinkleyConfig(
            delta=params.page_hinkley_delta,
            lambda_=params.page_hinkley_lambda,
            alpha=params.page_hinkley_alpha,
            min_num_instances=params.page_hinkley_min_rows,
        )
    )
    for rows, error in enumerate(((y - p) ** 2 - p * (1 - p)).tolist(), start=1):
        detector.update(value=error)
        if detector.drift:
            return rows
    return None


# ---------------------------------------------------------------- feature tests


def _feature_tests(
    ref: dict[str, np.ndarray], cur: dict[str, np.ndarray], params: DriftParams
) -> list[FeatureTest]:
    """Every test in schema order, p-values corrected together."""
    # (feature, test, statistic, raw p, effect) or a skip reason in place of the numbers
    runs: list[tuple[str, str, float, float, float] | tuple[str, str, str]] = []
    runs.append((SEX, SEX_TEST, *_chi_square(ref[SEX] == FEMALE_CODE, cur[SEX] == FEMALE_CODE)))
    runs.append((AGE, AGE_TEST, *_ks(ref[AGE], cur[AGE])))
    for flavour in FLAVOURS:
        ref_watched, cur_watched = ref[flavour] > 0, cur[flavour] > 0
        runs.append((flavour, WATCH_SHARE_TEST, *_chi_square(ref_watched, cur_watched)))
        fewest = min(int(ref_watched.sum()), int(cur_watched.sum()))
        if fewest < params.min_watchers:
            side = "window" if cur_watched.sum() == fewest else "reference"
            runs.append(
                (
                    flavour,
                    WATCHED_SECONDS_TEST,
                    f"only {fewest} watchers in the {side}; the test needs {params.min_watchers}",
                )
            )
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
            tests.append(FeatureTest(feature, test, None, None, None, False, None, skipped=why))
            continue
        feature, test, statistic, raw_p, effect = run
        p_value = float(next(corrected))
        floor = params.min_share_difference if test in _SHARE_TESTS else params.min_ks_statistic
        drift = p_value < params.false_discovery_rate and effect >= floor
        tests.append(FeatureTest(feature, test, statistic, p_value, effect, drift, raw_p))
    return tests


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


# ---------------------------------------------------------------- concept drift


def _bootstrap(
    y: np.ndarray, p: np.ndarray, excess: np.ndarray, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Average precision and mean log-loss excess over bootstrap resamples of the rows.

    A resample is a vector of counts over the rows sorted once by score; average precision
    is then a few cumulative sums for all resamples at once (ties grouped as scikit-learn
    does: precision is read at the last row of each score, recall gained on positives).
    """
    n = len(y)
    order = np.argsort(-p, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    positive, sorted_p, sorted_excess = y[order], p[order], excess[order]
    ends = np.flatnonzero(np.r_[sorted_p[1:] != sorted_p[:-1], True])  # last row of each score
    tied_positives = np.add.reduceat(positive.astype(np.int64), np.r_[0, ends[:-1] + 1])
    ends = ends[tied_positives > 0]  # scores without a purchase add no recall
    aps, excesses = [], []
    block = max(1, _BOOTSTRAP_CELLS // n)
    for start in range(0, resamples, block):
        count = min(block, resamples - start)
        drawn = rank[rng.integers(0, n, size=(count, n))] + np.arange(count)[:, None] * n
        weights = np.bincount(drawn.ravel(), minlength=count * n).reshape(count, n)
        excesses.append((weights * sorted_excess).sum(axis=1) / n)  # no BLAS threads
        true_pos = np.cumsum(weights * positive, axis=1)[:, ends]
        all_pos = np.cumsum(weights, axis=1)[:, ends]
        keep = true_pos[:, -1] > 0  # a resample without a purchase has no average precision
        true_pos, all_pos = true_pos[keep], all_pos[keep]
        gained = np.diff(true_pos, axis=1, prepend=0)
        precision = np.divide(true_pos, all_pos, out=np.zeros(true_pos.shape), where=gained > 0)
        aps.append((gained * precision).sum(axis=1) / true_pos[:, -1])
    return np.concatenate(aps), np.concatenate(excesses)


def _average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p))


# ---------------------------------------------------------------- input checks


def _feature_arrays(frame: pl.DataFrame, role: str) -> dict[str, np.ndarray]:
    """The feature columns as numpy arrays, after checks Frouros does not make (NaN
    gives a p-value of NaN there, silently)."""
    missing = [name for name in FEATURES if name not in frame.columns]
    if missing:
        raise ValueError(f"the {role} visits lack column(s): {', '.join(missing)}")
    arrays: dict[str, np.ndarray] = {}
    sex = frame[SEX]
    if not isinstance(sex.dtype, pl.Enum | pl.Categorical | pl.String):
        raise ValueError(f"{role} column {SEX} has type {sex.dtype}; expected F/M codes")
    sex = sex.cast(pl.String)
    if sex.null_count():
        raise ValueError(f"{role} column {SEX} has {sex.null_count()} missing value(s)")
    unknown = sex.filter(~sex.is_in(list(SEX_CODES))).unique().sort().head(3).to_list()
    if unknown:
        raise ValueError(f"{role} column {SEX} holds {unknown}; expected one of {SEX_CODES}")
    arrays[SEX] = sex.to_numpy()
    for name in (AGE, *FLAVOURS):
        column = frame[name]
        if not column.dtype.is_numeric():
            raise ValueError(f"{role} column {name} has type {column.dtype}; expected numbers")
        if column.null_count():
            raise ValueError(f"{role} column {name} has {column.null_count()} missing value(s)")
        if column.dtype.is_float() and not column.is_finite().all():
            raise ValueError(f"{role} column {name} holds NaN or infinite values")
        values = column.to_numpy()
        if name == AGE and len(values) and not AGE_MIN <= values.min() <= values.max() <= AGE_MAX:
            raise ValueError(f"{role} column {AGE} leaves {AGE_MIN}..{AGE_MAX}")
        if name != AGE and len(values) and values.min() < 0:
            raise ValueError(f"{role} column {name} holds negative seconds")
        arrays[name] = values
    return arrays


def _labels(frame: pl.DataFrame) -> np.ndarray | None:
    """The window's labels as 1.0/0.0 with NaN where unknown; None without the column."""
    if LABEL not in frame.columns:
        return None
    column = frame[LABEL]
    if column.dtype not in (pl.Boolean, pl.Null):
        raise ValueError(f"current column {LABEL} has type {column.dtype}; expected booleans")
    return column.cast(pl.Float64).to_numpy()


def _checked_probability(probability: np.ndarray, rows: int) -> np.ndarray:
    p = np.asarray(probability, dtype=np.float64)
    if p.ndim != 1 or len(p) != rows:
        raise ValueError(f"expected one probability per window row ({rows:,}), got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must be finite numbers in [0, 1]")
    return p
