"""Concept drift: does the champion do worse on labelled visits than it promised?

Four views, rows in arrival order: a bootstrap interval of the window's average
precision against the champion's test figure; a bootstrap interval of the log-loss in
excess of the log-loss the champion expects of itself on these very rows (the mean binary
entropy of its probabilities: unlike average precision it does not move when only who
visits changes); at its threshold, the precision it realised on the visitors it targeted
against the precision it expected of them (the mean of their probabilities, what it
promises on visits without labels yet); and a Page-Hinkley detector over the per-row
Brier excess, for a change part-way through the window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from juice.model.decision import decide
from juice.monitoring.samples import checked_probability
from juice.params import DriftParams

_EPSILON = 1e-15  # probabilities are clipped to [eps, 1 - eps] for the log-loss
_BOOTSTRAP_CELLS = 2_000_000  # resamples x rows held in memory at once


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
    # At the champion's threshold (None without one, or with nobody targeted):
    targeted: int = 0
    realised_precision: float | None = None  # share of the targeted who bought
    realised_precision_interval: tuple[float, float] | None = None
    expected_precision: float | None = None  # the mean probability of the targeted
    precision_gap_interval: tuple[float, float] | None = None  # of realised - expected
    precision_fell: bool = False

    @property
    def reason(self) -> str:
        return describe_concept(self)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reason": self.reason}


@dataclass(frozen=True)
class Promise:
    """What the champion showed on its test data, which a window is held to: its average
    precision, and how far its own probabilities were off (a model trained on few visits
    is overconfident: that is not a change)."""

    average_precision: float | None = None
    log_loss_excess: float = 0.0  # test log-loss minus the mean entropy of its probabilities
    precision_gap: float = 0.0  # test precision minus the mean probability of the targeted

    @classmethod
    def of(cls, metrics: dict[str, float], average_precision: float | None) -> Promise:
        """From a card's test metrics (older cards lack the offsets: none assumed)."""
        gap = 0.0
        if "expected_precision" in metrics and "precision" in metrics:
            gap = metrics["precision"] - metrics["expected_precision"]
        return cls(average_precision, metrics.get("log_loss_excess", 0.0), gap)


def check_concept(
    labels: np.ndarray,
    probability: np.ndarray,
    params: DriftParams,
    promise: Promise | None = None,
    threshold: float | None = None,
) -> ConceptCheck:
    """Does the champion do worse on these labels than it promised? Rows in arrival order.

    Args:
        labels: purchased or not, one per row, no missing values, both outcomes present.
        probability: the champion's purchase probability for each row.
        params: bootstrap, tolerances and the streaming detector's settings.
        promise: what it showed on its test data; without it the average-precision view
            is left out and its probabilities are held to being calibrated.
        threshold: the champion's decision threshold; None leaves the precision view out.
    """
    promise = promise or Promise()
    test_average_precision = promise.average_precision
    y, p = _outcomes(labels), checked_probability(probability, len(labels))
    clipped = np.clip(p, _EPSILON, 1 - _EPSILON)
    log_loss = -np.where(y, np.log(clipped), np.log1p(-clipped))
    entropy = -(clipped * np.log(clipped) + (1 - clipped) * np.log1p(-clipped))
    rng = np.random.default_rng(params.seed)
    ap_samples, excess_samples = _bootstrap(y, p, log_loss - entropy, params.bootstrap, rng)
    tails = [(1 - params.confidence) / 2, (1 + params.confidence) / 2]
    ap_low, ap_high = (float(q) for q in np.quantile(ap_samples, tails))
    ll_low, ll_high = (float(q) for q in np.quantile(excess_samples, tails))
    dropped = (
        test_average_precision is not None
        and ap_high < test_average_precision - params.average_precision_tolerance
    )
    rose = ll_low > promise.log_loss_excess + params.log_loss_tolerance
    fired_at = detect_error_rise(y, p, params)
    at_threshold = _precision_view(y, p, threshold, params, rng, promise.precision_gap)
    return ConceptCheck(
        rows=len(y),
        purchase_rate=float(y.mean()),
        average_precision=_average_precision(y, p),
        average_precision_interval=(ap_low, ap_high),
        test_average_precision=test_average_precision,
        average_precision_dropped=bool(dropped),
        log_loss=float(log_loss.mean()),
        expected_log_loss=float(entropy.mean()),
        log_loss_excess_interval=(ll_low, ll_high),
        log_loss_rose=bool(rose),
        stream_fired=fired_at is not None,
        stream_rows=fired_at,
        drift=bool(
            (dropped and params.average_precision_decides)
            or rose
            or (at_threshold.get("precision_fell", False) and params.precision_decides)
            or (params.stream_decides and fired_at is not None)
        ),
        **at_threshold,
    )


def _precision_view(
    y: np.ndarray, p: np.ndarray, threshold: float | None, params: DriftParams,
    rng: np.random.Generator, promised_gap: float,
) -> dict[str, Any]:  # fmt: skip
    """At the threshold: the targeted visitors' realised precision against the mean of
    their probabilities, with a bootstrap interval of the difference; it fell when the
    interval lies below the gap it showed on test data minus `precision_tolerance`."""
    if threshold is None:
        return {}
    targeted = decide(p, threshold)
    count = int(targeted.sum())
    if not count:
        return {"targeted": 0}
    bought, promised = y[targeted].astype(np.float64), p[targeted]
    rows = rng.integers(0, count, size=(params.bootstrap, count))
    tails = [(1 - params.confidence) / 2, (1 + params.confidence) / 2]
    low, high = (float(q) for q in np.quantile((bought - promised)[rows].mean(axis=1), tails))
    realised = tuple(float(q) for q in np.quantile(bought[rows].mean(axis=1), tails))
    return {
        "targeted": count,
        "realised_precision": float(bought.mean()),
        "realised_precision_interval": realised,
        "expected_precision": float(promised.mean()),
        "precision_gap_interval": (low, high),
        "precision_fell": bool(high < promised_gap - params.precision_tolerance),
    }


def describe_concept(check: ConceptCheck) -> str:
    """The concept check in words: what the champion did on the labels, against its promise."""
    if check.drift:
        findings = []
        if check.average_precision_dropped:
            findings.append(
                f"average precision {check.average_precision:.3f} (at most "
                f"{check.average_precision_interval[1]:.3f}) against "
                f"{check.test_average_precision:.3f} on test data"
            )
        if check.log_loss_rose:
            findings.append(
                f"log-loss {check.log_loss:.3f} against the {check.expected_log_loss:.3f} it "
                f"expects (excess at least {check.log_loss_excess_interval[0]:+.3f})"
            )
        if check.precision_fell:
            findings.append(
                f"precision {check.realised_precision:.3f} on the {check.targeted:,} visitors it "
                f"targeted, against the {check.expected_precision:.3f} it expected"
            )
        if check.stream_rows is not None:
            findings.append(f"its errors rose part-way through, after {check.stream_rows:,} rows")
        return f"the champion does worse on {check.rows:,} labelled rows: {'; '.join(findings)}"
    compared = (
        f"average precision {check.average_precision:.3f} vs "
        f"{check.test_average_precision:.3f} on test, "
        if check.test_average_precision is not None
        else f"average precision {check.average_precision:.3f}, "
    )
    rose = f"; its errors rose after {check.stream_rows:,} rows" if check.stream_fired else ""
    return (
        f"the champion does as well as it promised on {check.rows:,} labelled rows ({compared}"
        f"log-loss {check.log_loss:.3f} vs {check.expected_log_loss:.3f} expected){rose}"
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
    p = checked_probability(probability, len(y))
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


def _outcomes(labels: np.ndarray) -> np.ndarray:
    """The labels as booleans: one known outcome per row, both outcomes present."""
    given = np.asarray(labels)
    if given.ndim != 1 or (given.dtype.kind == "f" and np.isnan(given).any()):
        raise ValueError("labels must be one known outcome per row")
    y = given.astype(bool)
    if y.all() or not y.any():
        raise ValueError("the concept check needs both outcomes among the labels")
    return y


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
