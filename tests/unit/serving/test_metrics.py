"""The service's metrics: bulk histogram updates equal one observe per value."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from juice.serving.metrics import observe_many


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
