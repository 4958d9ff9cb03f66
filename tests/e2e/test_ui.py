"""The marketers' web app in a real browser, against a real service on loopback.

One service (a champion trained here, served by `bentoml serve`), one app (served from a
thread of this process) and one headless Chromium for the module.
"""

from __future__ import annotations

import math
import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import gradio as gr
import httpx
import pytest
from commands import start_juice
from gradio.utils import get_upload_folder
from mirakuru import HTTPExecutor
from playwright.sync_api import Browser, Page, expect
from waiting import eventually

from juice.adapters.processes import bento_server, free_port
from juice.data.simulator import simulate, write_export
from juice.schema import FLAVOURS
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT
from ui.app import RETRAIN, build_app, launch, serve_ui
from ui.client import ServiceClient
from ui.form import ad_groups

pytestmark = pytest.mark.e2e
expect.set_options(timeout=15_000)  # a loaded CI machine can take seconds per update

SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"


@dataclass(frozen=True)
class Service:
    """A `bentoml serve` of the champion; stop() and start() keep its address."""

    server: HTTPExecutor
    url: str


@pytest.fixture(scope="module")
def service(champion_home: Path) -> Iterator[Service]:
    server, url = bento_server("service:PolJuice", champion_home, JUICE_RELOAD_SECONDS="0.5")
    server.start()
    try:
        yield Service(server, url)
    finally:
        server.stop()


UPLOAD_BOUND = 1 << 20  # the module's app takes uploads of 1 MiB at most


def launched(
    client: ServiceClient,
    users: list[tuple[str, str]] | None = None,
    max_upload_bytes: int | None = None,
) -> tuple[gr.Blocks, str]:
    """The web app on a free loopback port, served from a thread of this process."""
    app = build_app(client, max_upload_bytes)
    port = free_port()
    launch(app, "127.0.0.1", port, users or [], block=False, max_upload_bytes=max_upload_bytes)
    return app, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def app_url(service: Service) -> Iterator[str]:
    app, url = launched(ServiceClient(service.url), max_upload_bytes=UPLOAD_BOUND)
    try:
        yield url
    finally:
        app.close()


def open_app(browser: Browser, url: str) -> Page:
    """A fresh page (own cookies and downloads) on the app, once its tabs are drawn."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url)
    expect(page.get_by_role("tab", name="One visitor")).to_be_visible()
    return page


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    page = open_app(browser, app_url)
    yield page
    page.context.close()


def screenshot(page: Page, tab: str) -> None:
    """artifacts/screenshots/<tab>.png, the whole page, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # outputs fade in after an update (Gradio never goes network-idle)
    page.screenshot(path=SCREENSHOTS / f"{tab.lower().replace(' ', '-')}.png", full_page=True)


VISIT = {"sex": "F", "age": 52, "mango": 120, "lychee": 60}
TAB_ONE, TAB_FILE, TAB_TARGETING, TAB_MODEL = "One visitor", "Score a file", "Targeting", "Model"


def fill_visitor(page: Page, visit: dict) -> None:
    page.get_by_label(visit["sex"], exact=True).check()
    watched = [flavour for flavour in FLAVOURS if visit.get(flavour)]
    # Every accordion first: one opening just after a field was typed in can reset it.
    for title, flavours in ad_groups():
        if set(flavours) & set(watched):
            page.get_by_role("button", name=title).click()
    for label, value in [("Age", visit["age"])] + [(f.capitalize(), visit[f]) for f in watched]:
        field = page.get_by_label(label, exact=True)
        field.fill(str(value))
        field.press("Tab")  # a number commits its value when the field is left
    for label, value in [("Age", visit["age"])] + [(f.capitalize(), visit[f]) for f in watched]:
        expect(page.get_by_label(label, exact=True)).to_have_value(str(value))


def predict_in_page(page: Page, visit: dict) -> None:
    fill_visitor(page, visit)
    page.get_by_role("button", name="Predict").click()


def api(service, route: str, **request) -> httpx.Response:
    method = "POST" if request else "GET"
    response = httpx.request(method, f"{service.url}{route}", timeout=30, **request)
    assert response.status_code == 200, f"{route}: {response.status_code} {response.text[:200]}"
    return response


# One visitor.


def test_one_visitor_shows_the_probability_the_service_gives(page, service):
    [expected] = api(service, "/predict", json={"visits": [VISIT]}).json()
    predict_in_page(page, VISIT)
    result = page.locator("#visitor-result")
    expect(result).to_contain_text(f"{expected['probability'] * 100:.1f}% chance of buying")
    decision = "Likely to buy:" if expected["will_buy"] else "Unlikely to buy:"
    expect(result).to_contain_text(f"{decision} ")
    assert result.inner_text().count("ikely to buy") == 1  # not both decisions
    screenshot(page, TAB_ONE)


def test_one_visitor_explains_the_probability_with_a_chart(page, service):
    [explained] = api(service, "/explain", json={"visits": [VISIT]}).json()
    reference = api(service, "/model").json()["reference"]
    contributions = explained["contributions"]
    top = max(contributions, key=lambda field: abs(contributions[field]))
    predict_in_page(page, VISIT)
    expect(page.locator("#contributions img")).to_be_visible()
    why = page.locator("#explanation")
    words = {"M": "man", "F": "woman"}[reference["sex"]]
    expect(why).to_contain_text(
        f"Compared with a {words} aged {reference['age']} who watched no ad"
    )
    factor = math.exp(contributions[top])
    if top in VISIT and top not in ("sex", "age"):
        expect(why).to_contain_text(f"Watching {top.capitalize()} for {VISIT[top]} s")
    if 1.005 < factor < 2:
        expect(why).to_contain_text(f"raised the odds of buying by {round((factor - 1) * 100)}%")
    expect(page.locator("#visitor-message")).to_be_hidden()
    screenshot(page, TAB_ONE)


def test_a_visitor_the_service_would_refuse_gets_a_sentence(page):
    predict_in_page(page, VISIT | {"age": 17})
    expect(page.locator("#visitor-message")).to_have_text(
        "Age must be a whole number between 18 and 100; it is 17."
    )
    expect(page.locator("#visitor-result")).not_to_contain_text("%")


def test_seconds_past_the_services_bound_get_a_sentence_naming_the_ad(page):
    predict_in_page(page, VISIT | {"apple": 10**12})
    expect(page.locator("#visitor-message")).to_have_text(
        "Apple must be a whole number between 0 and 3,600; it is 1,000,000,000,000."
    )


def test_the_apps_api_names_each_event_and_its_inputs_and_hides_the_internal_ones(app_url, service):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {"/predict", "/score_file", "/plan_by_threshold", "/plan_by_reach"}
    assert [p["parameter_name"] for p in endpoints["/predict"]["parameters"]] == [
        "sex", "age", *FLAVOURS
    ]  # fmt: skip
    assert [p["parameter_name"] for p in endpoints["/score_file"]["parameters"]] == ["export"]
    _, result, *_ = client.predict("F", 41, blackcurrant=76, api_name="/predict")
    expected = api(service, "/predict", json={"visits": [{"sex": "F", "age": 41,
                                                          "blackcurrant": 76}]})  # fmt: skip
    assert f"{expected.json()[0]['probability']:.1%}" in result


# Score a file.

BROKEN = {5: "M,thirty" + ",0" * 23 + ",N", 17: "M,30,0,0", 100: "F,41" + ",0" * 22 + ",-5,Y"}


@pytest.fixture(scope="module")
def export_with_broken_lines(tmp_path_factory) -> tuple[Path, Path]:
    """An export (header, labels) with broken lines at BROKEN's line numbers, and the same
    export without them."""
    folder = tmp_path_factory.mktemp("exports")
    good = write_export(simulate(300, seed=5), folder / "good.csv", header=True)
    lines = good.read_text().splitlines()
    for number, line in sorted(BROKEN.items()):
        lines.insert(number - 1, line)
    broken = folder / "visits.csv"
    broken.write_text("\n".join(lines) + "\n")
    return broken, good


def upload(page: Page, path: Path) -> None:
    page.get_by_role("tab", name=TAB_FILE).click()
    page.locator("#export-upload input[type=file]").set_input_files(path)


def test_a_file_is_scored_except_its_broken_lines_which_are_listed(
    page, service, export_with_broken_lines
):
    broken, good = export_with_broken_lines
    upload(page, broken)
    summary = page.locator("#file-summary")
    expect(summary).to_contain_text("300 rows scored · 3 rejected")
    expect(summary).to_contain_text("On this file's labels")
    rows = page.locator("#rejected-lines").get_by_role("row")
    expect(rows).to_have_count(len(BROKEN) + 1)  # and the header
    listed = [rows.nth(i).get_by_role("gridcell").first.inner_text() for i in range(1, 4)]
    assert listed == [str(number) for number in sorted(BROKEN)]
    expect(page.locator("#file-histogram img")).to_be_visible()
    screenshot(page, TAB_FILE)
    with page.expect_download() as download:
        page.locator("#download-scored").click()
    assert download.value.suggested_filename == "visits-scored.csv"
    scored_good_rows = api(service, "/predict_csv", files={"file": good.open("rb")}).content
    assert Path(download.value.path()).read_bytes() == scored_good_rows


def test_an_upload_over_the_bound_is_refused_before_it_is_stored(page, tmp_path):
    page.get_by_role("tab", name=TAB_FILE).click()
    expect(page.get_by_text("up to 1 MiB (1,048,576 bytes)")).to_be_visible()
    big = tmp_path / "too-big.csv"
    big.write_bytes(b"F,30" + b",0" * 23 + b"\n" * (UPLOAD_BOUND * 3 // 2))  # 1.5 MiB
    uploads = Path(get_upload_folder())
    before = set(uploads.rglob("too-big.csv")) if uploads.exists() else set()
    upload(page, big)
    expect(page.get_by_text("exceed", exact=False).first).to_be_visible()
    expect(page.locator("#download-scored")).to_be_hidden()
    assert set(uploads.rglob("too-big.csv")) == before


def served_path(page: Page) -> Path:
    """The file the download button offers, where the app keeps it."""
    with page.expect_download() as download:
        page.locator("#download-scored").click()
    return Path(unquote(download.value.url.split("file=", 1)[1]))


def test_a_page_keeps_only_its_latest_scored_file(page, export_with_broken_lines):
    broken, _ = export_with_broken_lines
    upload(page, broken)
    expect(page.locator("#file-summary")).to_contain_text("300 rows scored")
    first = served_path(page)
    assert first.is_file()
    page.get_by_role("button", name="Score again").click()
    second = eventually(lambda: (path := served_path(page)) != first and path, "a new scored file")
    assert second.is_file()
    assert not first.exists()  # the earlier scored file went with the new one


def test_an_unreadable_file_is_refused_with_the_services_reason(page, service, tmp_path):
    binary = tmp_path / "export.csv"
    binary.write_bytes(random.Random(1).randbytes(4000))
    answer = httpx.post(
        f"{service.url}/predict_csv",
        files={"file": binary.open("rb")},
        data={"broken_lines": "skip"},
    )
    assert answer.status_code == 400
    reason = answer.json()["error"].removeprefix("file: ").rstrip(".")  # shown as written
    upload(page, binary)
    expect(page.locator("#file-message")).to_have_text(
        f"The service refused the file export.csv: {reason}."
    )
    expect(page.locator("#download-scored")).to_be_hidden()
    expect(page.locator("#file-summary")).to_be_empty()


# Targeting.


def test_the_targeting_sliders_follow_the_cards_table(page, service):
    card = api(service, "/model").json()
    assert card.get("targeting"), "the service's card has no targeting table"
    rows = card["targeting"]
    page.get_by_role("tab", name=TAB_TARGETING).click()
    choice = page.locator("#targeting-summary tr").filter(has_text="Your choice")
    served = min(rows, key=lambda row: abs(row["threshold"] - card["threshold"]))
    expect(choice).to_contain_text(f"{served['threshold'] * 100:.1f}%")  # starts there

    page.locator("#threshold-slider input[type=number]").fill("40")
    page.locator("#threshold-slider input[type=number]").press("Enter")
    row = min(rows, key=lambda row: abs(row["threshold"] - 0.40))
    expect(choice).to_contain_text(f"{row['threshold'] * 100:.1f}%")
    expect(choice).to_contain_text(f"{row['precision'] * 100:.1f}%")
    expect(choice).to_contain_text(f"{round(row['reach'] * 10_000):,} ({row['reach'] * 100:.1f}%)")
    expect(page.locator("#reach-slider input[type=number]")).to_have_value(
        f"{round(row['reach'] * 100, 1):g}"
    )

    page.locator("#reach-slider input[type=range]").fill("30")
    row = min(reversed(rows), key=lambda row: abs(row["reach"] - 0.30))
    expect(choice).to_contain_text(f"{row['recall'] * 100:.1f}%")
    expect(page.locator("#threshold-slider input[type=number]")).to_have_value(
        f"{round(row['threshold'] * 100, 1):g}"
    )
    expect(page.locator("#targeting-chart img")).to_be_visible()
    screenshot(page, TAB_TARGETING)


def test_the_plan_chosen_in_targeting_marks_whom_it_targets_in_a_scored_file(
    page, service, export_with_broken_lines
):
    import polars as pl

    _, good = export_with_broken_lines
    rows = api(service, "/model").json()["targeting"]
    page.get_by_role("tab", name=TAB_TARGETING).click()
    page.locator("#reach-slider input[type=range]").fill("10")
    row = min(reversed(rows), key=lambda row: abs(row["reach"] - 0.10))
    expect(page.locator("#threshold-slider input[type=number]")).to_have_value(
        f"{round(row['threshold'] * 100, 1):g}"
    )
    upload(page, good)
    top = round(row["reach"] * 300)  # the file's own top share, as chosen
    expect(page.locator("#file-summary")).to_contain_text(f"targets {top:,} of 300 visitors")
    with page.expect_download() as download:
        page.locator("#download-scored").click()
    marked = pl.read_csv(download.value.path(), infer_schema=False)
    served = pl.read_csv(api(service, "/predict_csv", files={"file": good.open("rb")}).content,
                         infer_schema=False)  # fmt: skip
    assert marked.columns == [*served.columns, "targeted"]
    assert marked.drop("targeted").equals(served)  # the service's columns, as it gave them
    targeted = marked.filter(pl.col("targeted") == "true")["probability"].cast(pl.Float64)
    others = marked.filter(pl.col("targeted") == "false")["probability"].cast(pl.Float64)
    assert len(targeted) == top
    assert targeted.min() >= others.max()  # the top share by probability


def test_a_card_without_targeting_asks_for_retraining(browser):
    old_card = {"version": "1", "threshold": 0.5, "metrics": {}, "effects": []}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=old_card))
    app, url = launched(ServiceClient("http://old.test", transport=transport))
    try:
        page = open_app(browser, url)
        page.get_by_role("tab", name=TAB_TARGETING).click()
        expect(page.locator("#targeting-message")).to_have_text(RETRAIN.replace("`", ""))
        page.context.close()
    finally:
        app.close()


# Model.


def test_the_model_tab_shows_the_card(page, service):
    card = api(service, "/model").json()
    page.get_by_role("tab", name=TAB_MODEL).click()
    text = page.locator("#model-card")
    expect(text).to_contain_text(f"Model v{card['version']}")
    expect(text).to_contain_text(f"data version {card['dataset_version']}")
    expect(text).to_contain_text(card["trained_at"][:10])
    expect(text).to_contain_text(f"{card['metrics']['precision'] * 100:.1f}%")
    expect(text).to_contain_text(f"{card['metrics']['roc_auc']:.3f}")
    best = max(card["effects"], key=lambda effect: effect["uplift"])
    expect(page.locator("#model-effects")).to_contain_text(best["flavour"].capitalize())
    expect(page.locator("#effects-chart img")).to_be_visible()
    screenshot(page, TAB_MODEL)


# Who may open the app.


def test_users_given_means_a_login_is_required():
    app, url = launched(ServiceClient("http://unused.test"), users=[("ann", "s3cret")])
    try:
        with httpx.Client(base_url=url) as client:
            assert client.get("/gradio_api/login_check").status_code == 401
            refused = client.post("/login", data={"username": "ann", "password": "wrong"})
            assert refused.status_code >= 400
            assert client.post("/login", data={"username": "ann", "password": "s3cret"}).is_success
            assert client.get("/gradio_api/login_check").status_code == 200
    finally:
        app.close()


def test_repeated_failed_sign_ins_are_slowed_down_for_that_user():
    users = [("ann", "s3cret"), ("bob", "pa55")]
    app, url = launched(ServiceClient("http://unused.test"), users=users)
    try:
        with httpx.Client(base_url=url) as client:
            guesses = [client.post("/login", data={"username": "ann", "password": f"guess{n}"})
                       for n in range(50)]  # fmt: skip
            assert [g.status_code for g in guesses[:5]] == [400] * 5  # each one checked
            assert {g.status_code for g in guesses[5:]} == {429}  # then refused unchecked
            assert 50 <= int(guesses[-1].headers["retry-after"]) <= 60
            assert "Too many failed sign-ins for ann" in guesses[-1].json()["detail"]
            right = client.post("/login", data={"username": "ann", "password": "s3cret"})
            assert right.status_code == 429  # even the right password waits
            other = client.post("/login", data={"username": "bob", "password": "pa55"})
            assert other.is_success  # another user signs in meanwhile
    finally:
        app.close()


def test_the_app_refuses_to_listen_beyond_loopback_without_users():
    port = free_port()
    with pytest.raises(ValueError, match="without a login"):
        serve_ui("http://127.0.0.1:3000", None, "0.0.0.0", port, [])
    with pytest.raises(ValueError, match="token is empty"):
        serve_ui("http://127.0.0.1:3000", "", "127.0.0.1", port, [])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")


# The service down, then back. Last: it restarts the module's service.


def test_the_app_starts_and_says_so_while_the_service_is_down_then_recovers(page, browser, service):
    service.server.stop()
    try:
        down = f"The prediction service at {service.url} cannot be reached"
        predict_in_page(page, VISIT)
        expect(page.locator("#visitor-message")).to_contain_text(down)
        app, url = launched(ServiceClient(service.url))  # starting while the service is down
        try:
            fresh = open_app(browser, url)
            fresh.get_by_role("tab", name=TAB_MODEL).click()
            expect(fresh.locator("#model-message")).to_contain_text(down)
            fresh.context.close()
        finally:
            app.close()
    finally:
        service.server.start()
    [expected] = api(service, "/predict", json={"visits": [VISIT]}).json()
    page.get_by_role("button", name="Predict").click()
    expect(page.locator("#visitor-result")).to_contain_text(
        f"{expected['probability'] * 100:.1f}% chance of buying"
    )
    expect(page.locator("#visitor-message")).to_be_hidden()  # the message is gone
    page.get_by_role("tab", name=TAB_MODEL).click()
    expect(page.locator("#model-card")).to_contain_text("Model v")


def test_juice_ui_leaves_no_scratch_after_sigterm_and_clears_a_killed_ones(tmp_path):
    """The app's uploads and scored files live in the workspace's scratch folder: removed
    on SIGTERM (how a process manager stops it), and a killed app's at the next start."""
    home, port = tmp_path / "home", free_port()
    scratch = Settings(home=home).workspace.ui_scratch
    killed = scratch / "4194304"  # a pid no process has (above Linux's pid_max)
    (killed / "upload").mkdir(parents=True)
    (killed / "upload" / "marketers.csv").write_text("F,30\n")
    env = {"JUICE_HOME": str(home), "JUICE_UI_PORT": str(port)}
    app = start_juice("ui", env=env)
    try:

        def answers() -> bool:
            assert app.poll() is None, app.communicate()[1]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).is_success
            except httpx.TransportError:
                return False

        eventually(answers, "the app", timeout=60)
        assert [folder.name for folder in scratch.iterdir()] == [str(app.pid)]
        (scratch / str(app.pid) / "scored.csv").write_text("kept while it runs\n")
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(30)
    assert not any(scratch.iterdir())
