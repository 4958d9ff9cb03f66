"""Monitoring end to end: a served champion and a Pushgateway scraped by a real Prometheus
on the rendered configuration and rules (intervals of a second), its alerts routed by a
real Alertmanager to our receiver, which logs them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from factories import small_train_params
from trickling import trickle
from waiting import eventually

from juice.adapters.commands import alertmanager_command, prometheus_command, pushgateway_command
from juice.adapters.processes import bento_server, free_port, http_server
from juice.data.simulator import simulate
from juice.monitoring.alerts import AlertRecord, read_alert_log
from juice.monitoring.drift import WATCH_SHARE_TEST, DriftReport, FeatureTest
from juice.monitoring.incidents import Incident
from juice.monitoring.prometheus import (
    RULES,
    Intervals,
    write_monitoring_configs,
)
from juice.monitoring.pushgateway import push_drift
from juice.registry.seed import seed_champion
from juice.registry.store import Registry
from juice.secrets import basic_authorization
from juice.serving.api import request_visits
from juice.settings import Settings

pytestmark = pytest.mark.e2e

BODY_SECONDS = 2  # the receiver's body deadline here
FAST = Intervals(scrape="1s", evaluation="1s", group_wait="1s", group_interval="1s", repeat="1h")


@dataclass(frozen=True)
class Stack:
    settings: Settings
    service: str
    pushgateway: str
    prometheus: str

    def query(self, expression: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": expression})
        assert answer.status_code == 200, f"{expression}: {answer.text}"
        return answer.json()["data"]["result"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """The service (a seeded champion), Pushgateway, receiver, Alertmanager, Prometheus."""
    home = tmp_path_factory.mktemp("monitoring")
    seed_champion(simulate(2000, seed=21), small_train_params(), Settings(home=home), "test")
    service, service_url = bento_server("service:PolJuice", home)
    port = {name: free_port() for name in ("pushgateway", "alertmanager", "receiver", "prometheus")}
    url = {name: f"http://127.0.0.1:{number}" for name, number in port.items()}
    settings = Settings(home=home, api_url=service_url, pushgateway_url=url["pushgateway"],
                        pushgateway_port=port["pushgateway"], prometheus_port=port["prometheus"],
                        alertmanager_port=port["alertmanager"],
                        alert_receiver_port=port["receiver"])  # fmt: skip
    write_monitoring_configs(settings, FAST)
    receiver = [str(Path(sys.executable).parent / "juice"), "monitor", "alerts"]
    receiver_env = {"JUICE_HOME": str(home), "JUICE_ALERT_RECEIVER_PORT": str(port["receiver"]),
                    "JUICE_API_BODY_SECONDS": str(BODY_SECONDS)}  # fmt: skip
    credentials = basic_authorization(*settings.monitoring_auth())
    with ExitStack() as servers:  # stopped in reverse order, whatever fails
        for command, ready, env, headers in [
            (pushgateway_command(settings), f"{url['pushgateway']}/-/ready", None, credentials),
            (receiver, f"{url['receiver']}/healthz", receiver_env, None),
            (alertmanager_command(settings), f"{url['alertmanager']}/-/ready", None, credentials),
            (prometheus_command(settings), f"{url['prometheus']}/-/ready", None, None),
        ]:
            servers.enter_context(http_server(command, ready, env, headers=headers))
        servers.enter_context(service)
        yield Stack(settings, service_url, url["pushgateway"], url["prometheus"])


def drift_report(drift: bool) -> DriftReport:
    """A check's verdict on the mango ad's watch share: drifted or not."""
    test = FeatureTest(feature="mango", test=WATCH_SHARE_TEST, statistic=50.0 if drift else 0.1,
                       p_value=1e-9 if drift else 0.9, effect=0.2 if drift else 0.001,
                       drift=drift, raw_p_value=1e-10 if drift else 0.8)  # fmt: skip
    return DriftReport(verdict="drift" if drift else "stable", drift=drift,
                       drifted_features=["mango"] if drift else [], concept_drift=False,
                       window_rows=2000, reference_rows=2000, tests=[test],
                       concept=None)  # fmt: skip


def test_prometheus_scrapes_the_service_and_the_pushgateway(stack):
    def both_up() -> dict[str, str] | None:
        up = {s["metric"]["job"]: s["value"][1] for s in stack.query("up")}
        return up if up == {"juice_service": "1", "pushgateway": "1"} else None

    eventually(both_up, "scrape of both targets")


def test_every_rule_evaluates_without_error(stack):
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]]  # fmt: skip
    for rule in rules:
        stack.query(rule["expr"])  # 200 with status success, or the assertion names it

    def all_evaluated() -> list[dict[str, Any]] | None:
        groups = httpx.get(f"{stack.prometheus}/api/v1/rules").json()["data"]["groups"]
        loaded = [rule for group in groups for rule in group["rules"]]
        return loaded if all(rule["health"] == "ok" for rule in loaded) else None

    loaded = eventually(all_evaluated, "evaluation of every rule")
    assert len(loaded) == len(rules)


def test_the_served_champions_expected_share_and_its_traffic_reach_prometheus(stack):
    expected = Registry(stack.settings).card("1").expected_buy_share
    assert expected is not None

    def recorded(name: str) -> Callable[[], float | None]:
        def probe() -> float | None:  # a value above 0: before traffic a share is 0/0, NaN
            values = (float(sample["value"][1]) for sample in stack.query(name))
            return next((value for value in values if value > 0), None)

        return probe

    assert eventually(recorded("juice:model_expected_buy_share:served"), "share") == expected
    visits = request_visits(simulate(300, seed=5))
    answers = httpx.post(f"{stack.service}/predict", json={"visits": visits}).json()
    decided_buy = sum(answer["will_buy"] for answer in answers) / len(answers)
    assert 0 < decided_buy < 1
    # The first batch counts: the decision counters exist at 0 before it.
    share = eventually(recorded("juice:visits_decided_buy:ratio1h"), "share of buy decisions")
    assert share == pytest.approx(decided_buy)
    assert eventually(recorded("juice:visits_scored:increase1h"), "visits") >= 300


def test_a_drift_incident_fires_once_reaches_the_receivers_log_then_resolves(stack):
    log = stack.settings.workspace.alert_log

    def logged(status: str) -> Callable[[], AlertRecord | None]:
        return lambda: next(
            (r for r in read_alert_log(log)
             if r.alertname == "JuiceDriftDetected" and r.status == status),
            None,
        )  # fmt: skip

    def firing_in_prometheus() -> dict[str, Any] | None:
        alerts = httpx.get(f"{stack.prometheus}/api/v1/alerts").json()["data"]["alerts"]
        return next((a for a in alerts if a["labels"]["alertname"] == "JuiceDriftDetected"
                     and a["state"] == "firing"), None)  # fmt: skip

    def push(report: DriftReport, incident: Incident) -> None:
        push_drift(stack.pushgateway, report, model_version="1", incident=incident,
                   auth=stack.settings.monitoring_auth())  # fmt: skip

    assert logged("firing")() is None
    incident = Incident(4, "open", "2026-12-05T10:00:00+00:00", "e1.csv", "drift: mango")
    push(drift_report(True), incident)
    alert = eventually(firing_in_prometheus, "firing JuiceDriftDetected in Prometheus")
    assert alert["labels"]["severity"] == "warning"
    record = eventually(logged("firing"), "JuiceDriftDetected in the receiver's log")
    assert record.receiver == "juice-log"
    assert record.labels["job"] == "juice_drift_check"
    assert "Drift incident 4 is open" in record.annotations["description"]
    # A later check of the same incident (still drift, or not): still one notification
    push(drift_report(False), incident)
    time.sleep(3)
    firing = [r for r in read_alert_log(log) if r.alertname == "JuiceDriftDetected"]
    assert [r.status for r in firing] == ["firing"]

    closed = replace(incident, state="closed", closed_at="2026-12-05T20:00:00+00:00")
    push(drift_report(False), closed)
    eventually(logged("resolved"), "resolved JuiceDriftDetected in the receiver's log")


FOREIGN = {"Origin": "http://pages.example", "Content-Type": "text/plain"}  # what a page sends


def test_a_page_of_another_origin_changes_nothing_in_monitoring(stack):
    """What a web page can send to loopback without asking (a text/plain POST with its Origin)
    is refused by Alertmanager, the Pushgateway and the receiver, and changes nothing."""
    settings = stack.settings
    alertmanager = f"http://127.0.0.1:{settings.alertmanager_port}"
    receiver = f"http://127.0.0.1:{settings.alert_receiver_port}"
    silence = ('{"matchers":[{"name":"alertname","value":"Juice.+","isRegex":true}],'
               '"startsAt":"2026-01-01T00:00:00Z","endsAt":"2030-01-01T00:00:00Z",'
               '"createdBy":"page","comment":"quiet"}')  # fmt: skip
    auth = settings.monitoring_auth()
    pushed_before = httpx.get(f"{stack.pushgateway}/api/v1/metrics", auth=auth).json()["data"]
    forged = {
        f"{alertmanager}/api/v2/silences": silence,
        f"{stack.pushgateway}/metrics/job/juice_drift_check": "juice_drift_incident_open 1\n",
        f"{receiver}/alerts": '{"alerts":[{"status":"firing","labels":{"alertname":"Forged"}}]}',
    }
    for url, body in forged.items():
        answer = httpx.post(url, content=body, headers=FOREIGN)
        assert answer.status_code in (401, 415), f"{url}: {answer.status_code} {answer.text}"
        assert answer.headers.get("access-control-allow-origin") in (None, "")
    # JSON, as a page could send after a CORS preflight, without the secret: refused too
    json_headers = {"Origin": FOREIGN["Origin"], "Content-Type": "application/json"}
    answer = httpx.post(f"{receiver}/alerts", content=forged[f"{receiver}/alerts"],
                        headers=json_headers)  # fmt: skip
    assert answer.status_code == 401
    preflight = httpx.options(f"{alertmanager}/api/v2/silences",
                              headers={"Origin": FOREIGN["Origin"],
                                       "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert preflight.headers.get("access-control-allow-origin") in (None, "")
    prometheus = httpx.get(f"{stack.prometheus}/api/v1/status/buildinfo", headers=FOREIGN)
    assert prometheus.headers.get("access-control-allow-origin") != "*"

    silences = httpx.get(f"{alertmanager}/api/v2/silences", auth=auth)
    assert silences.status_code == 200
    assert silences.json() == []
    pushed = httpx.get(f"{stack.pushgateway}/api/v1/metrics", auth=auth).json()["data"]
    assert pushed == pushed_before
    assert not [r for r in read_alert_log(settings.workspace.alert_log) if r.alertname == "Forged"]


def test_the_receiver_answers_a_trickled_body_408_at_its_deadline(stack):
    secret = stack.settings.monitoring_auth()[1]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}
    url = f"http://127.0.0.1:{stack.settings.alert_receiver_port}"
    answer, waited = trickle(url, "/alerts", headers, b'{"alerts": [', BODY_SECONDS)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert waited < BODY_SECONDS + 2
