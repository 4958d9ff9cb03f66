"""Monitoring configuration: the rendered Prometheus and Alertmanager files checked by
promtool and amtool, the alerting rules' own unit tests, and the alert receiver."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from juice.adapters.alert_receiver import alert_receiver
from juice.adapters.commands import alertmanager_command, prometheus_command, pushgateway_command
from juice.errors import JuiceError
from juice.monitoring.alerts import read_alert_log
from juice.monitoring.prometheus import (
    RULES,
    Intervals,
    render_prometheus_config,
    write_monitoring_configs,
)
from juice.serving.config import Limits
from juice.settings import Settings
from juice.workspace import PROMETHEUS_DEPLOYMENT

ALERTS = {"JuiceDriftDetected", "JuiceDriftCheckStale", "JuiceServiceErrorRate",
          "JuiceServiceLatencyHigh", "JuicePositiveRateShift", "JuiceServiceDown",
          "JuicePushgatewayDown", "JuicePrecisionBelowPromise"}  # fmt: skip


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: `make system` installs it")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every port moved from its default, as on a machine running two stacks."""
    ports = {"api_port": 3100, "pushgateway_port": 9191, "alertmanager_port": 9193,
             "alert_receiver_port": 9195, "prometheus_port": 9190}  # fmt: skip
    return Settings(home=tmp_path / "home", **ports)


@pytest.fixture
def written(settings: Settings) -> Settings:
    write_monitoring_configs(settings, Intervals(scrape="1s", evaluation="2s", group_wait="3s"))
    return settings


def test_the_rendered_prometheus_config_passes_promtool_with_its_rules(written):
    done = run(tool("promtool"), "check", "config", str(written.workspace.prometheus_config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout  # the rules copy beside it was read


def test_the_config_scrapes_this_machines_ports_and_alerts_its_alertmanager(written):
    config = yaml.safe_load(written.workspace.prometheus_config.read_text())
    assert config["global"] == {"scrape_interval": "1s", "evaluation_interval": "2s"}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["juice_service"]["static_configs"] == [{"targets": ["127.0.0.1:3100"]}]
    assert jobs["juice_service"]["metrics_path"] == "/metrics"
    assert jobs["pushgateway"]["static_configs"] == [{"targets": ["127.0.0.1:9191"]}]
    assert jobs["pushgateway"]["honor_labels"] is True  # keeps the pushed job label
    [alertmanager] = config["alerting"]["alertmanagers"]
    assert alertmanager["static_configs"] == [{"targets": ["127.0.0.1:9193"]}]
    assert config["rule_files"] == ["rules.yml"]
    assert written.workspace.prometheus_rules.read_text() == RULES.read_text()


def test_service_and_pushgateway_urls_become_the_targets(tmp_path):
    settings = Settings(home=tmp_path, api_url="https://bot:secret@api.example:8443/juice/",
                        pushgateway_url="http://push.example:9091")  # fmt: skip
    config = yaml.safe_load(render_prometheus_config(settings))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    service = jobs["juice_service"]
    assert service["scheme"] == "https"
    assert service["metrics_path"] == "/juice/metrics"
    assert service["static_configs"] == [{"targets": ["api.example:8443"]}]  # no credentials
    assert jobs["pushgateway"]["static_configs"] == [{"targets": ["push.example:9091"]}]


def test_a_url_prometheus_cannot_scrape_is_refused(tmp_path):
    with pytest.raises(JuiceError, match="JUICE_API_URL=ftp://x"):
        render_prometheus_config(Settings(home=tmp_path, api_url="ftp://x"))


def test_intervals_must_be_durations():
    assert Intervals(scrape="1m30s").scrape == "1m30s"
    with pytest.raises(ValueError, match="scrape: '1s\\\\n"):
        Intervals(scrape="1s\nrule_files: [evil.yml]")
    with pytest.raises(ValueError, match="repeat"):
        Intervals(repeat="soon")


def test_the_rendered_alertmanager_config_passes_amtool_and_logs_every_alert(written):
    path = written.workspace.alertmanager_config
    done = run(tool("amtool"), "check-config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(path.read_text())
    assert config["route"]["group_wait"] == "3s"
    [log] = [r for r in config["receivers"] if r["name"] == config["route"]["receiver"]]
    secret = {"type": "Bearer", "credentials_file": str(written.monitoring_secret_file)}
    assert log["webhook_configs"] == [
        {"url": "http://127.0.0.1:9195/alerts", "send_resolved": True,
         "http_config": {"authorization": secret}}
    ]  # fmt: skip


def test_the_rules_pass_promtool():
    done = run(tool("promtool"), "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_unit_tests_pass():
    tests = PROMETHEUS_DEPLOYMENT / "rules.test.yml"
    done = run(tool("promtool"), "test", "rules", str(tests))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_waits_is_graded_and_tells_a_person_what_to_do():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert {alert["alert"] for alert in alerts} == ALERTS
    tested = (PROMETHEUS_DEPLOYMENT / "rules.test.yml").read_text()
    for alert in alerts:
        assert "for" in alert, alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        assert "What to do" in alert["annotations"]["description"], alert["alert"]
        assert f"alertname: {alert['alert']}" in tested, f"{alert['alert']} has no unit test"


def test_the_commands_run_on_loopback_with_the_workspace_files(written):
    workspace = written.workspace
    command = prometheus_command(written)
    assert Path(command[0]).name == "prometheus"
    assert f"--config.file={workspace.prometheus_config}" in command
    assert f"--storage.tsdb.path={workspace.prometheus_data}" in command
    assert "--web.listen-address=127.0.0.1:9190" in command
    command = alertmanager_command(written)
    assert f"--config.file={workspace.alertmanager_config}" in command
    assert "--web.listen-address=127.0.0.1:9193" in command
    assert "--cluster.listen-address=" in command  # no gossip port on every interface
    command = pushgateway_command(written)
    assert "--web.listen-address=127.0.0.1:9191" in command
    assert f"--persistence.file={workspace.pushgateway_data}" in command  # not Debian's shared one


def notification(*alerts: dict) -> dict:
    """Alertmanager's webhook body (version 4), as it sends it."""
    return {"version": "4", "groupKey": "{}:{alertname=\"X\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "juice-log", "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": list(alerts)}  # fmt: skip


def alert(name: str, status: str = "firing", **labels: str) -> dict:
    return {"status": status, "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} summary"},
            "startsAt": "2026-11-30T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph", "fingerprint": f"{name}-fp"}  # fmt: skip


SECRET = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def receiver(tmp_path) -> tuple[TestClient, Path]:
    log = tmp_path / "logs" / "alerts.jsonl"
    app = alert_receiver(log, "s3cret", Limits(max_body_bytes=10_000, body_seconds=5))
    return TestClient(app, headers=SECRET), log


def test_the_receiver_appends_each_alert_as_a_json_line(receiver):
    client, log = receiver
    first = notification(alert("JuiceDriftDetected", severity="warning"),
                         alert("JuiceServiceDown", severity="critical"))  # fmt: skip
    assert client.post("/alerts", json=first).json() == {"logged": 2}
    resolved = notification(alert("JuiceDriftDetected", status="resolved", severity="warning"))
    assert client.post("/alerts", json=resolved).status_code == 200
    records = read_alert_log(log)
    assert [(r.alertname, r.status, r.severity) for r in records] == [
        ("JuiceDriftDetected", "firing", "warning"),
        ("JuiceServiceDown", "firing", "critical"),
        ("JuiceDriftDetected", "resolved", "warning"),
    ]
    assert records[0].annotations == {"summary": "JuiceDriftDetected summary"}
    assert records[0].receiver == "juice-log"
    assert records[0].starts_at == "2026-11-30T10:00:00Z"
    assert all(json.loads(line) for line in log.read_text().splitlines())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "Invalid JSON"),
        (b"[]", "not an Alertmanager notification"),
        (json.dumps(notification({"status": "burning", "labels": {}})).encode(), "alerts.0"),
        (json.dumps({"alerts": []}).encode(), "receiver"),
        (b"x" * 10_001, "10,000 bytes"),
    ],
)
def test_the_receiver_refuses_what_is_not_a_notification_and_logs_nothing(receiver, body, reason):
    client, log = receiver
    response = client.post("/alerts", content=body, headers={"content-type": "application/json"})
    assert response.status_code == (413 if len(body) > 10_000 else 400)
    assert reason in response.json()["error"]
    assert not log.exists()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"content-type": "text/plain"}, 415),  # what a page sends cross-origin unasked
        ({"authorization": "Bearer wrong"}, 401),
        ({"authorization": ""}, 401),
    ],
)
def test_the_receiver_takes_json_from_the_secrets_holder_only(receiver, headers, status):
    client, log = receiver
    forged = json.dumps(notification(alert("JuiceDriftDetected", severity="warning")))
    response = client.post("/alerts", content=forged,
                           headers={"content-type": "application/json", **headers})  # fmt: skip
    assert response.status_code == status
    assert not log.exists()


def test_the_receiver_answers_its_probe_and_only_posts_log(receiver):
    client, log = receiver
    assert client.get("/healthz").text == "ok"
    assert client.get("/alerts").status_code == 405
    assert not log.exists()


def test_the_alert_log_is_bounded_like_every_log(tmp_path):
    log = tmp_path / "logs" / "alerts.jsonl"
    client = TestClient(alert_receiver(log, "s3cret", log_bytes=20_000), headers=SECRET)
    big = notification(*[alert(f"Juice{n}", severity="warning") for n in range(20)])
    for _ in range(30):  # about 150 KB of alerts in all
        assert client.post("/alerts", json=big).status_code == 200
    kept = [log, log.with_name("alerts.jsonl.1")]
    assert all(path.stat().st_size <= 20_000 for path in kept)
    assert not list(log.parent.glob("alerts.jsonl.2"))
    assert read_alert_log(log)[-1].alertname == "Juice19"  # the newest are kept
