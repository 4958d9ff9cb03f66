"""Verdicts of the flows (drift checks, trainings) pushed to the Prometheus Pushgateway."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from juice.monitoring.drift import DriftReport
from juice.monitoring.incidents import Incident

if TYPE_CHECKING:  # imported where a push happens: prometheus_client is not needed before
    from prometheus_client import CollectorRegistry

JOB = "juice_drift_check"
TRAINING_JOB = "juice_train"


def push_drift(
    url: str,
    report: DriftReport,
    model_version: str,
    timeout: float = 5.0,
    *,
    incident: Incident | None = None,
    precision: dict[str, float | bool | None] | None = None,
    auth: tuple[str, str] | None = None,
) -> None:
    """Pushes `juice_drift_detected` (this check's verdict),
    `juice_drift_p_value{feature,test}`, the window's size, the incident
    (`juice_drift_incident_open`: the one that alerts), the champion's precision on the
    window against its promise (`precision`: promised, realised, expected, below_promise)
    and `juice_drift_check_last_success_timestamp_seconds`, as one group.

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
    opened = incident is not None and incident.state == "open"
    gauge("juice_drift_incident_open", "1 while a drift incident is open").set(opened)
    if incident is not None:
        gauge("juice_drift_incident_number", "The current or last incident").set(incident.number)
    for name, value in (precision or {}).items():
        if value is not None:
            gauge(_PRECISION[name][0], _PRECISION[name][1]).set(float(value))
    gauge(
        "juice_drift_check_last_success_timestamp_seconds", "When a drift check last completed"
    ).set(time.time())
    _push(url, JOB, registry, timeout, auth)


_PRECISION = {  # name: (metric, help)
    "promised": ("juice_champion_promised_precision",
                 "The champion's precision on its test data, at its threshold"),
    "realised": ("juice_champion_realised_precision",
                 "Its precision on the last check's labelled targeted visitors"),
    "expected": ("juice_champion_expected_precision",
                 "The mean probability of the visitors it targeted in the last check"),
    "below_promise": ("juice_champion_precision_below_promise",
                      "1 if the realised precision is below the promise beyond chance"),
}  # fmt: skip


def push_training(
    url: str, version: str, promoted: bool, champion: str | None, metrics: dict[str, float],
    timeout: float = 5.0, auth: tuple[str, str] | None = None,
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
    _push(url, TRAINING_JOB, registry, timeout, auth)


def _push(
    url: str, job: str, registry: CollectorRegistry, timeout: float, auth: tuple[str, str] | None
) -> None:
    """Replaces the job's group on the Pushgateway (with basic `auth`, (user, password),
    when given); any failure is one OSError."""
    from prometheus_client import push_to_gateway
    from prometheus_client.exposition import basic_auth_handler, default_handler

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        if auth is None:
            return default_handler(url, method, timeout, headers, data)
        return basic_auth_handler(url, method, timeout, headers, data, *auth)

    try:
        push_to_gateway(url, job=job, registry=registry, timeout=timeout, handler=handler)
    except Exception as error:  # urllib raises URLError, HTTPError, timeouts: all one cause
        raise OSError(f"could not push to the Pushgateway at {url}: {error}") from error
