"""Verdicts of the flows (drift checks, trainings) pushed to the Prometheus Pushgateway."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from juice.monitoring.drift import DriftReport

if TYPE_CHECKING:  # imported where a push happens: prometheus_client is not needed before
    from prometheus_client import CollectorRegistry

JOB = "juice_drift_check"
TRAINING_JOB = "juice_train"


def push_drift(url: str, report: DriftReport, model_version: str, timeout: float = 5.0) -> None:
    """Pushes `juice_drift_detected`, `juice_drift_p_value{feature,test}`, the window's
    size and `juice_drift_check_last_success_timestamp_seconds` as one group.

    Raises:
        OSError: the Pushgateway is unreachable or refused the push.
    """
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, labels, registry=registry)

    gauge("juice_drift_detected", "1 if the last check found drift").set(report.drift)
    gauge("juice_drift_concept_detected", "1 if the champion does worse").set(report.concept_drift)
    gauge("juice_drift_window_rows", "Visits in the last check's window").set(report.window_rows)
    gauge("juice_drift_features_drifted", "Features that drifted").set(len(report.drifted_features))
    p_values = gauge("juice_drift_p_value", "Corrected p-value per test", ("feature", "test"))
    for test in report.tests:
        if test.p_value is not None:
            p_values.labels(test.feature, test.test).set(test.p_value)
    champion = gauge("juice_champion_version", "The champion the check judged", ("version",))
    champion.labels(model_version).set(1)
    gauge(
        "juice_drift_check_last_success_timestamp_seconds", "When a drift check last completed"
    ).set(time.time())
    _push(url, JOB, registry, timeout)


def push_training(
    url: str, version: str, promoted: bool, champion: str | None, metrics: dict[str, float],
    timeout: float = 5.0,
) -> None:  # fmt: skip
    """Pushes a training's test metrics, whether it was promoted, the champion after it and
    `juice_training_last_success_timestamp_seconds` (job `juice_train`).

    Raises:
        OSError: the Pushgateway is unreachable or refused the push.
    """
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    tested = Gauge("juice_training_test_metric", "The last trained model's test metrics",
                   ["metric", "version"], registry=registry)  # fmt: skip
    for name, value in metrics.items():
        tested.labels(name, version).set(value)
    Gauge("juice_training_promoted", "1 if the last training was promoted",
          registry=registry).set(promoted)  # fmt: skip
    if champion is not None:
        Gauge("juice_champion_version", "The champion after the last training", ["version"],
              registry=registry).labels(champion).set(1)  # fmt: skip
    Gauge("juice_training_last_success_timestamp_seconds", "When a training last completed",
          registry=registry).set(time.time())  # fmt: skip
    _push(url, TRAINING_JOB, registry, timeout)


def _push(url: str, job: str, registry: CollectorRegistry, timeout: float) -> None:
    """Replaces the job's group on the Pushgateway; any failure is one OSError."""
    from prometheus_client import push_to_gateway

    try:
        push_to_gateway(url, job=job, registry=registry, timeout=timeout)
    except Exception as error:  # urllib raises URLError, HTTPError, timeouts: all one cause
        raise OSError(f"could not push to the Pushgateway at {url}: {error}") from error
