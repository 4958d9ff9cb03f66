"""A short soak: a day and a half of hourly exports through the real drift loop (the same
functions as benchmarks/soak.py's month), with a change of buying behaviour half a day in;
then the champion's record it leaves, from the real service, the command and the app."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from commands import juice
from playwright.sync_api import Browser, expect

from juice.adapters.processes import bento_server
from juice.workspace import PROJECT_ROOT

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import soak  # noqa: E402  (the benchmark's machinery, not a package)

CHANGE, HOURS = 12, 36
SCHEDULE = soak.Schedule(campaign=soak.NEVER, older=soak.NEVER, older_done=soak.NEVER,
                         concept=CHANGE, campaign_ends=soak.NEVER)  # fmt: skip


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[soak.Soak]:
    saved = dict(os.environ)  # the soak points the frameworks at its workspace
    try:
        yield soak.run(1000, HOURS, "after", tmp_path_factory.mktemp("soak"), SCHEDULE)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def service(soaked: soak.Soak) -> Iterator[str]:
    server, url = bento_server("service:PolJuice", soaked.settings.home)
    with server:
        yield url


def test_a_change_of_buying_behaviour_is_one_incident_found_fixed_and_settled(soaked):
    before = [hour for hour in soaked.hours if hour.hour < CHANGE]
    after = [hour for hour in soaked.hours if hour.hour >= CHANGE]
    assert not any(hour.drift for hour in before)  # no false alarm while stable
    opened = [hour.hour for hour in soaked.hours if hour.event == "opened"]
    assert len(opened) == 1  # one incident, however long the change lasts
    assert opened[0] - CHANGE + 1 <= 2  # found within two hours
    assert 1 <= sum(hour.retrained for hour in after) <= 2
    assert 1 <= sum(hour.promoted for hour in after) <= 2
    assert soak.alerts(soaked, range(HOURS)) == 1

    # The champion's expected precision holds while stable and opens a gap under the change
    def gap(hours: list[soak.Hour]) -> float:
        targeted = sum(hour.targeted for hour in hours)
        return (
            sum(hour.hits for hour in hours) - sum(hour.expected_sum for hour in hours)
        ) / targeted

    assert abs(gap(before)) < 0.05
    assert gap([hour for hour in after if hour.hour < CHANGE + 3]) < -0.05


def test_the_service_answers_the_champions_record_and_timeline(soaked, service):
    record = httpx.get(f"{service}/record", timeout=30).json()
    assert record == httpx.post(f"{service}/record", timeout=30).json()
    champion = soaked.hours[-1].champion
    assert record["version"] == champion
    assert record["serving_since"]
    assert record["exports"], "no labelled export judged since it serves"
    assert all(item["labelled"] and item["realised_precision"] is not None
               for item in record["exports"])  # fmt: skip
    kinds = [event["kind"] for event in record["timeline"]]
    assert "incident-opened" in kinds
    assert kinds.count("champion") >= 2  # the first champion, then the fix (and the settling)
    assert record["timeline"] == sorted(record["timeline"], key=lambda e: e["at"], reverse=True)


def test_juice_models_record_prints_the_same_record(soaked, service):
    env = {"JUICE_HOME": str(soaked.settings.home)}
    done = juice("models", "record", "--json", env=env)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    served = httpx.get(f"{service}/record", timeout=30).json()
    assert printed["exports"] == served["exports"]
    assert printed["timeline"] == served["timeline"]
    text = juice("models", "record", env=env).stdout
    assert f"champion v{served['version']}" in text
    assert "promised on its test data" in text
    assert "drift incident #1 opened" in text


def test_the_model_tab_shows_the_record_beside_the_promise_and_the_timeline(
    browser: Browser, soaked, service
):
    from juice.adapters.processes import free_port
    from ui.app import build_app, launch
    from ui.client import ServiceClient

    app, port = build_app(ServiceClient(service)), free_port()
    launch(app, "127.0.0.1", port, [], block=False)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_role("tab", name="Model").click()
        record = httpx.get(f"{service}/record", timeout=30).json()
        shown = page.locator("#model-record")
        expect(shown).to_contain_text("How it is doing", timeout=30_000)
        expect(shown).to_contain_text(f"Realised on {len(record['exports'])} labelled export(s)")
        expect(shown).to_contain_text(f"{record['promised_precision'] * 100:.1f}%")
        expect(shown).to_contain_text("drift incident #1 opened")
        expect(shown).to_contain_text("became the champion")
        expect(page.locator("#record-chart img")).to_be_visible()
        page.screenshot(path=str(Path(soaked.settings.home) / "model-tab.png"))
        page.close()
    finally:
        app.close()
