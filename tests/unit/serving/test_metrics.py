"""The service's metrics: bulk histogram updates equal one observe per value; the
served version and each version's expected share of "buy"."""

from __future__ import annotations

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest

from juice.model.card import ModelCard
from juice.serving.metrics import observe_many, service_metrics


def test_bulk_histogram_updates_equal_one_observe_per_value():
    registry = CollectorRegistry()
    bulk = Histogram("bulk", "b", buckets=[0.1, 0.5, 1.0], registry=registry)
    single = Histogram("single", "s", buckets=[0.1, 0.5, 1.0], registry=registry)
    values = np.array([0.05, 0.1, 0.2, 0.6, 0.7, 1.0, 3.0])
    observe_many(bulk, values)
    for value in values:
        single.observe(value)
    text = generate_latest(registry).decode()

    def samples(name: str) -> set[str]:
        lines = text.splitlines()
        return {
            line.split("_", 1)[1]
            for line in lines
            if line.startswith(name) and "created" not in line
        }

    assert samples("bulk_") == samples("single_")
    assert len(samples("bulk_")) == 6


def card(version: str, threshold: float, targeting: list[dict[str, float]] | None) -> ModelCard:
    return ModelCard(
        name="m", version=version, run_id="r", threshold=threshold, beta=0.3, metrics={},
        dataset_version=None, trained_at="", rows={}, best_params={}, effects=[], columns=[],
        targeting=targeting,
    )  # fmt: skip


def test_each_announced_version_shows_its_expected_buy_share_and_one_is_served():
    metrics = service_metrics()
    rows = [{"threshold": t, "precision": 0.5, "recall": 0.5, "reach": r}
            for t, r in [(0.2, 0.4), (0.35, 0.12), (0.6, 0.05)]]  # fmt: skip
    metrics.announce(card("71", 0.35, rows))
    metrics.announce(card("72", 0.6, rows))
    metrics.announce(card("73", 0.6, None))  # an older card: no share to compare with

    def value(name: str, version: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"version": version})

    assert [value("juice_model_info", v) for v in ("71", "72", "73")] == [0, 0, 1]
    assert value("juice_model_expected_buy_share", "71") == 0.12
    assert value("juice_model_expected_buy_share", "72") == 0.05
    assert value("juice_model_expected_buy_share", "73") is None
