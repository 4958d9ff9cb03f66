"""The drift check end to end: a real Prefect server, MLflow store, Pushgateway; the
champion's own training data against newly landed exports."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from commands import assert_one_line_error, juice
from factories import export, land

from juice.adapters.commands import pushgateway_command
from juice.adapters.processes import free_port, http_server
from juice.monitoring.prometheus import write_monitoring_configs
from juice.registry.listing import list_versions
from juice.registry.store import CHECKS_EXPERIMENT, Registry
from juice.secrets import basic_authorization
from juice.settings import Settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pushgateway_server(tmp_path_factory) -> Iterator[Settings]:
    """A real Pushgateway on loopback, its data and secret in its own workspace (Debian's
    default file is shared by every Pushgateway on the machine)."""
    settings = Settings(home=tmp_path_factory.mktemp("pushgateway"), pushgateway_port=free_port())
    write_monitoring_configs(settings)
    url = f"http://127.0.0.1:{settings.pushgateway_port}"
    credentials = basic_authorization(*settings.monitoring_auth())
    with http_server(pushgateway_command(settings), f"{url}/-/ready", headers=credentials):
        yield settings


def pushed(pushgateway: str) -> str:
    """What the Pushgateway exposes (asked with the secret the flows were given)."""
    return httpx.get(f"{pushgateway}/metrics", auth=Settings().monitoring_auth()).text


@pytest.fixture
def pushgateway(pushgateway_server, monkeypatch) -> str:
    """The Pushgateway's URL, for flows that push to it with its secret."""
    monkeypatch.setenv(
        "JUICE_MONITORING_SECRET_PATH", str(pushgateway_server.monitoring_secret_file)
    )
    return f"http://127.0.0.1:{pushgateway_server.pushgateway_port}"


def test_a_campaign_is_drift_named_by_its_ads_and_pushed(
    trained, tmp_path, pushgateway, monkeypatch
):
    from flows.drift import drift_check

    monkeypatch.setenv("JUICE_PUSHGATEWAY_URL", pushgateway)
    land(trained, tmp_path, "campaign", 2000, seed=2, scenario="campaign")
    outcome = drift_check(retrain=False)
    report = outcome.check.report
    assert report.verdict == "drift"
    assert {"mango", "lime", "coconut"} <= set(report.drifted_features)
    assert not outcome.retrained
    assert outcome.model_version == "1"
    assert outcome.check.window_sources[0].startswith("campaign-")
    assert outcome.check.reference_version == Registry(trained).card("1").data_hash
    saved = json.loads(outcome.check.report_file.read_text())
    assert saved["verdict"] == "drift"
    assert [test["feature"] for test in saved["tests"]] == [t.feature for t in report.tests]
    metrics = pushed(pushgateway)
    assert 'juice_drift_detected{instance="",job="juice_drift_check"} 1' in metrics
    assert 'juice_drift_p_value{feature="mango",instance="",job="juice_drift_check",test=' in (
        metrics
    )
    assert "juice_drift_check_last_success_timestamp_seconds{" in metrics
    runs = Registry(trained).client.search_runs(
        [Registry(trained).client.get_experiment_by_name(CHECKS_EXPERIMENT).experiment_id]
    )
    assert runs[0].data.tags["verdict"] == "drift"


def test_stable_visits_are_stable_and_the_reference_survives_later_builds(trained, tmp_path):
    from flows.dataset import build_dataset
    from flows.drift import drift_check

    land(trained, tmp_path, "second", 2000, seed=3)
    (trained.workspace.landing / "noise-0.csv").write_bytes(b"\x00" * 100)  # unreadable
    build_dataset(versioned=False)  # a later build: the dataset now holds both exports
    outcome = drift_check()
    assert outcome.check.report.verdict == "stable"
    assert outcome.check.report.reference_rows == 3000  # still the champion's own data
    assert not outcome.retrained
    assert outcome.check.window_sources == [next(trained.workspace.landing.glob("second-*")).name]
    assert "left out, cannot be read: noise-0.csv: binary data" in outcome.check.warnings[0]


def test_a_change_the_champion_handles_is_one_incident_confirmed_without_training(
    trained, tmp_path, pushgateway, monkeypatch
):
    from flows.drift import drift_check

    monkeypatch.setenv("JUICE_PUSHGATEWAY_URL", pushgateway)
    land(trained, tmp_path, "campaign", 2000, seed=8, scenario="campaign")
    opened = drift_check()
    assert opened.check.report.drift
    assert not opened.check.report.concept_drift  # who visits changed, not what makes them buy
    assert (opened.incident_event, opened.incident.number, opened.retrained) == ("opened", 1, False)
    assert opened.incident.since.startswith("campaign-")
    assert "incident #1 opened" in opened.action
    metrics = pushed(pushgateway)
    assert 'juice_drift_incident_open{instance="",job="juice_drift_check"} 1' in metrics
    saved = json.loads(opened.check.report_file.read_text())
    assert saved["incident"]["event"] == "opened"
    assert saved["incident"]["state"] == "open"

    land(trained, tmp_path, "more", 2500, seed=9, scenario="campaign")
    confirmed = drift_check()  # the regime holds 4,500 visits: the champion is confirmed
    assert (confirmed.incident_event, confirmed.incident.number) == ("ongoing", 1)
    assert not confirmed.retrained
    assert "champion v1 confirmed on the newest" in confirmed.action
    assert confirmed.incident.settled
    assert {v.version for v in list_versions(Registry(trained))} == {"1"}  # no training

    land(trained, tmp_path, "after", 1500, seed=10, scenario="campaign")
    quiet = drift_check()  # judged against the campaign now
    assert quiet.check.reference_version != opened.check.reference_version
    assert quiet.check.report.verdict == "stable", quiet.check.report.reason
    assert quiet.check.window_sources == [quiet.check.window_sources[-1]]  # after the regime
    assert quiet.incident.stable_checks == 1
    assert quiet.incident.state == "open"  # until close_after stable checks in a row


def test_the_command_line_prints_the_report_and_fails_clearly(trained, tmp_path, prefect_harness):
    env = {"PREFECT_API_URL": prefect_harness}
    done = juice("drift-check", "--no-retrain", "--json", env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["verdict"] == "insufficient-data"
    assert payload["window_rows"] == 0
    keys = {"drift", "drifted_features", "concept_drift", "reference_version", "tests",
            "retrained", "promoted", "model_version"}  # fmt: skip
    assert keys <= set(payload)
    current = export(tmp_path / "given.csv", rows=1500, seed=5, scenario="campaign")
    done = juice("drift-check", "--no-retrain", "--current", str(current), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DRIFT:")
    assert "reported only" in done.stdout
    assert_one_line_error(juice("drift-check", "--current", "missing.csv"), "no such file")
    (tmp_path / "empty.csv").write_bytes(b"")
    done = juice("drift-check", "--current", str(tmp_path / "empty.csv"), env=env)
    assert_one_line_error(done, "empty.csv: the file is empty")
    # The champion's reference lost a file: refused, never judged against what is left
    reference = Registry(trained).card("1").data_hash
    [kept] = (trained.workspace.snapshots / reference).glob("*.parquet")
    kept.rename(kept.with_suffix(".moved"))
    done = juice("drift-check", "--no-retrain", env=env)
    assert_one_line_error(done, f"the dataset {reference[:12]}", f"{kept.name} is missing")


def test_no_champion_is_a_clear_error(workspace):
    assert_one_line_error(juice("drift-check"), "registry is missing", "juice train")
    Registry(workspace, create=True)
    assert_one_line_error(juice("drift-check"), "no champion")


def test_two_checks_never_retrain_at_once_and_the_second_reports_the_first(trained, tmp_path):
    import threading

    from filelock import FileLock

    from flows.drift import drift_check

    land(trained, tmp_path, "concept", 2000, seed=7, scenario="concept")
    trained.workspace.work.mkdir(parents=True, exist_ok=True)
    retraining, waited = threading.Event(), threading.Event()

    def another_check() -> None:  # holds the lock while the check under test starts
        with FileLock(trained.workspace.lock("retrain")):
            retraining.set()
            waited.wait(20)

    other = threading.Thread(target=another_check)
    other.start()
    retraining.wait(10)
    threading.Timer(3, waited.set).start()  # the other check finishes a while later
    outcome = drift_check()
    other.join()
    assert waited.is_set()  # the check waited for the other one to finish
    assert outcome.check.report.drift
    assert not outcome.retrained
    assert outcome.action == "drift: another check retrained meanwhile; champion v1"
    saved = json.loads(outcome.check.report_file.read_text())
    assert saved["action"] == outcome.action
    assert saved["retrained"] is False
    assert saved["model_version"] == "1"


def test_a_training_pushes_its_metrics(trained, pushgateway, monkeypatch):
    from flows.training import train

    monkeypatch.setenv("JUICE_PUSHGATEWAY_URL", pushgateway)
    outcome = train()
    metrics = pushed(pushgateway)
    assert "juice_training_last_success_timestamp_seconds{" in metrics
    labels = f'job="juice_train",metric="roc_auc",version="{outcome.model_version}"'
    assert f'juice_training_test_metric{{instance="",{labels}}}' in metrics
