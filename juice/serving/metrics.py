"""The service's own Prometheus metrics: what it scores, who it scores, which model."""

from __future__ import annotations

from functools import cache

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from juice.model.card import ModelCard
from juice.model.matrix import AGE_COLUMN, FIRST_FLAVOUR_COLUMN
from juice.schema import FLAVOURS


class ServiceMetrics:
    """Beside BentoML's request metrics; prometheus_client aggregates them across workers."""

    def __init__(self) -> None:
        self.predictions = Counter("juice_predictions", "Visits scored, by decision", ["decision"])
        # Both series exist at 0 from the start: Prometheus' increase() ignores a series'
        # first sample, so a counter born at its first batch would lose that batch.
        for decision in ("buy", "no_buy"):
            self.predictions.labels(decision)
        self.probability = Histogram(
            "juice_predicted_probability",
            "Predicted purchase probability",
            buckets=[round(0.1 * i, 1) for i in range(1, 11)],
        )
        self.watched = Counter(
            "juice_ad_watched_visits", "Scored visits that watched each ad", ["flavour"]
        )
        self.watch_seconds = Counter(
            "juice_ad_watch_seconds", "Seconds watched per ad in scored visits", ["flavour"]
        )
        self.age = Histogram(
            "juice_visitor_age", "Age of scored visitors", buckets=[25, 35, 45, 55, 65, 75, 100]
        )
        self.model_info = Gauge(
            "juice_model_info",
            "1 for the version a worker serves",
            ["version"],
            multiprocess_mode="max",
        )
        # Per version and never reset: the positive-rate alert compares the traffic's
        # share of "buy" with the value of the version juice_model_info says is served.
        self.expected_buy_share = Gauge(
            "juice_model_expected_buy_share",
            "Share of its test visits a version decides buy for (its card's reach)",
            ["version"],
            multiprocess_mode="max",
        )
        self.model_swaps = Counter("juice_model_swaps", "Champion models loaded by the workers")

    def observe(self, matrix: np.ndarray, probability: np.ndarray, decision: np.ndarray) -> None:
        """Counts one scoring call: decisions, probabilities, ages and ads watched."""
        buyers = int(decision.sum())
        self.predictions.labels("buy").inc(buyers)
        self.predictions.labels("no_buy").inc(len(decision) - buyers)
        observe_many(self.probability, probability)
        observe_many(self.age, matrix[:, AGE_COLUMN])
        seconds = matrix[:, FIRST_FLAVOUR_COLUMN:]
        watched, total = (seconds > 0).sum(axis=0), seconds.sum(axis=0)
        for j, flavour in enumerate(FLAVOURS):
            if watched[j]:
                self.watched.labels(flavour).inc(int(watched[j]))
                self.watch_seconds.labels(flavour).inc(float(total[j]))

    def announce(self, card: ModelCard) -> None:
        """Marks the version of `card` as the one this worker serves now."""
        for metric in self.model_info.collect():
            for sample in metric.samples:
                self.model_info.labels(sample.labels["version"]).set(0)
        self.model_info.labels(card.version).set(1)
        if card.expected_buy_share is not None:
            self.expected_buy_share.labels(card.version).set(card.expected_buy_share)
        self.model_swaps.inc()


@cache
def service_metrics() -> ServiceMetrics:
    """The process's metrics, registered once (a second registration would be refused)."""
    return ServiceMetrics()


def observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """`observe` for a whole batch: one increment per bucket, not one per value.

    Why the private children: prometheus_client has no public batch observe, and one
    `observe` per value costs about 1.6 µs in multiprocess mode (a file write), some 3 ms
    of a 1,000-visit request whose own work is about 6 ms; the unit test pins that the
    exposition equals one `observe` per value (non-cumulative `_buckets`, `_sum`)."""
    bounds = np.asarray(histogram._upper_bounds)  # noqa: SLF001
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts, strict=False):  # noqa: SLF001
        if count:
            bucket.inc(int(count))
    histogram._sum.inc(float(values.sum()))  # noqa: SLF001
