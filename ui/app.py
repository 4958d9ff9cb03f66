"""The marketers' web app: four tabs over the prediction service; layout and event handlers."""

from __future__ import annotations

import math
import shutil
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
import matplotlib
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware

from juice.schema import AGE_MAX, AGE_MIN, FEMALE_CODE
from juice.sizes import mebibytes
from ui import charts
from ui.access import LoginThrottle, check_binding
from ui.client import ServiceClient, ServiceError
from ui.form import ad_groups, flavour_label, visit_from_form
from ui.report import file_report, report_markdown, scored_file_name
from ui.targeting import (
    Plan,
    TargetingRow,
    campaign_markdown,
    nearest_reach,
    nearest_threshold,
    plan_file,
    planned_markdown,
    targeting_rows,
)
from ui.text import (
    SEX_WORDS,
    contribution_label,
    effects_markdown,
    explanation_markdown,
    model_markdown,
    plain,
    prediction_markdown,
    record_markdown,
    sex_info,
    top_contributions,
)

TITLE = "PolJuice: who will buy?"
DEFAULT_VISITORS = 10_000
# The card's refresh and the targeting controls run one at a time, in the order they
# were asked for: a refresh still on its way must not undo the plan chosen after it.
IN_ORDER: dict[str, Any] = {"concurrency_id": "card-and-plan", "concurrency_limit": 1}
MAX_VISITORS = 10**9  # beyond any campaign; figures past it read as nonsense
RECORD_UNAVAILABLE = "The service does not say how this model has done since it serves."
RETRAIN = (
    "This model was trained before targeting tables existed: retrain it (`juice train`) "
    "to plan campaigns here."
)
CSS = """
.juice-message { border-left: 4px solid #ef6c00; background: #fff3e0; padding: 8px 12px; }
#visitor-result h2 { margin: 0 0 4px 0; }
footer { display: none !important; }
"""


def build_app(
    client: ServiceClient, max_upload_bytes: int | None = None, keep_days: int | None = None
) -> gr.Blocks:
    """The four tabs. Nothing is asked of the service until a page opens or a control
    is used, so the app starts (and stays up) while the service is down. An upload is at
    most `max_upload_bytes` (the service's own bound, said in the page); a page keeps its
    latest upload and scored file until it closes, nothing stays `keep_days`."""
    keep = (3600, keep_days * 86400) if keep_days else None  # hourly: anything older goes
    with gr.Blocks(title=TITLE, delete_cache=keep) as app:
        # The campaign the Targeting tab plans, carried over to a scored file (a Plan or None)
        plan = gr.State(None)
        gr.Markdown(f"# {TITLE}\nPredictions from the service at `{client.base_url}`.")
        with gr.Tabs():
            with gr.Tab("One visitor", id="visitor"):
                _visitor_tab(client)
            with gr.Tab("Score a file", id="file"):
                _file_tab(client, plan, max_upload_bytes)
            with gr.Tab("Targeting", id="targeting") as targeting_tab:
                targeting = _targeting_tab(client, plan)
            with gr.Tab("Model", id="model") as model_tab:
                model = _model_tab()
        refresh = partial(_refresh_card, client, targeting, model)
        outputs = {*targeting.refreshed, *model.refreshed}
        # The card is read again on opening either tab that shows it: a service that was down,
        # or a newly promoted model, shows up there.
        for trigger in (app.load, targeting_tab.select, model_tab.select):
            trigger(refresh, [targeting.card, targeting.plan], outputs, show_progress="hidden",
                    api_visibility="private", **IN_ORDER)  # fmt: skip
    return app


def _message(text: str = "") -> gr.Markdown:
    """An update of a tab's message box: shown with `text` (Markdown), hidden when empty."""
    return gr.Markdown(value=text, visible=bool(text))


def _problem(error: Exception, before: str = "") -> gr.Markdown:
    """A tab's message box showing an error's sentence as written."""
    return _message(before + plain(str(error)))


# One visitor.


def _visitor_tab(client: ServiceClient) -> None:
    with gr.Row():
        with gr.Column(scale=5):
            with gr.Row():
                sex = gr.Radio(list(SEX_WORDS), value=FEMALE_CODE, label="Sex", info=sex_info())
                age = gr.Number(value=35, label="Age", info=f"years, {AGE_MIN} to {AGE_MAX}")
            gr.Markdown("Seconds of each ad the visitor watched (0 = not watched):")
            seconds: dict[str, Any] = {}  # flavour -> its control
            for title, flavours in ad_groups():
                with gr.Accordion(title, open=False), gr.Row():
                    seconds |= {flavour: _seconds_input(flavour) for flavour in flavours}
            predict = gr.Button("Predict", variant="primary")
        with gr.Column(scale=6):
            message = gr.Markdown(visible=False, elem_id="visitor-message",
                                  elem_classes="juice-message")  # fmt: skip
            result = gr.Markdown(elem_id="visitor-result")
            chart = gr.Plot(show_label=False, format="png", visible=False, elem_id="contributions")
            why = gr.Markdown(elem_id="explanation")
    # The app's API (gradio_client, "Use via API"): predict(sex, age, apple, ..., strawberries)
    predict.click(
        partial(_predict, client),
        [sex, age],
        [message, result, chart, why],
        inputs_kwargs=seconds,
        api_name="predict",
    )


def _seconds_input(flavour: str) -> gr.Number:
    return gr.Number(value=0, label=flavour_label(flavour), min_width=100, elem_id=f"ad-{flavour}")


def _predict(client: ServiceClient, sex: str, age: float, **seconds: float) -> tuple[Any, ...]:
    try:
        visit = visit_from_form(sex, age, seconds, _bound(client))
        prediction = client.predict(visit)
    except (ValueError, ServiceError) as error:
        return _problem(error), "", gr.Plot(visible=False), ""
    try:
        explanation = client.explain(visit)
        reference = client.model_card().get("reference")
    except ServiceError as error:
        unexplained = _problem(error, before="No explanation of this prediction: ")
        return unexplained, prediction_markdown(prediction), gr.Plot(visible=False), ""
    contributions = explanation["contributions"]
    bars = [
        (contribution_label(f, visit), contributions[f]) for f in top_contributions(contributions)
    ]
    return (
        _message(),
        prediction_markdown(prediction),
        gr.Plot(charts.contributions_figure(bars), visible=True),
        explanation_markdown(explanation, visit, reference),
    )


def _bound(client: ServiceClient) -> int | None:
    """The service's seconds bound, or None while it cannot say (the request then fails
    with the reason it is unreachable)."""
    try:
        return client.seconds_bound()
    except ServiceError:
        return None


# Score a file.


def _file_tab(client: ServiceClient, plan: gr.State, max_upload_bytes: int | None) -> None:
    gr.Markdown(
        "Upload an analytics export (CSV, header row and `purchased` column optional"
        + (f", up to {mebibytes(max_upload_bytes)}" if max_upload_bytes else "")
        + "). Broken lines are listed with their reason; every other row is scored."
    )
    # This page's latest upload and scored file: the previous ones go when it scores
    # again, these when the page has been closed for an hour (Gradio ends its session).
    files = gr.State([], delete_callback=remove_files)
    with gr.Row():
        upload = gr.File(label="Export to score", elem_id="export-upload", scale=2, height=150)
        with gr.Column(scale=1):
            again = gr.Button("Score again")
            download = gr.DownloadButton(
                "Download the scored CSV",
                visible=False,
                elem_id="download-scored",
                variant="primary",
            )
    message = gr.Markdown(visible=False, elem_id="file-message", elem_classes="juice-message")
    summary = gr.Markdown(elem_id="file-summary")
    histogram = gr.Plot(show_label=False, format="png", visible=False, elem_id="file-histogram")
    rejected = gr.Dataframe(
        headers=["Line", "Reason"],
        label="Rejected lines",
        visible=False,
        interactive=False,
        wrap=True,
        column_widths=["12%", "88%"],
        elem_id="rejected-lines",
    )
    score = partial(_score, client)
    outputs = [message, summary, histogram, rejected, download, files]
    # The app's API: score_file(export)
    upload.upload(score, [upload, plan, files], outputs, concurrency_limit=2,
                  api_name="score_file")  # fmt: skip
    again.click(score, [upload, plan, files], outputs, concurrency_limit=2,
                api_visibility="private")  # fmt: skip
    upload.clear(lambda: (_message(), "", gr.Plot(visible=False), gr.Dataframe(visible=False),
                          gr.DownloadButton(visible=False)), None, outputs,
                 api_visibility="private")  # fmt: skip


def _score(
    client: ServiceClient,
    export: str | None,
    plan: Plan | None,
    kept: list[str],
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - how Gradio finds its progress bar
) -> tuple[Any, ...]:
    remove_files([path for path in kept if path != export])  # this page's earlier files
    kept = [export] if export else []
    nothing = (
        gr.Plot(visible=False),
        gr.Dataframe(visible=False),
        gr.DownloadButton(visible=False),
        kept,
    )
    if not export:
        return _message("Choose an export to score first."), "", *nothing
    progress(0.1, desc="The service is scoring the file")
    # In Gradio's own folder: offered for download as it is, never copied
    target = Path(get_upload_folder()) / uuid.uuid4().hex / scored_file_name(Path(export).name)
    target.parent.mkdir(parents=True)
    try:
        scored = client.score_file(Path(export), target)  # streamed to disk, as answered
    except ServiceError as error:
        shutil.rmtree(target.parent, ignore_errors=True)
        return _problem(error), "", *nothing
    progress(0.8, desc="Reading the scores")
    report = file_report(scored)
    try:
        threshold = client.model_card().get("threshold")
    except ServiceError:  # the histogram goes without its threshold line
        threshold = None
    lines = [[line, reason] for line, reason in scored.rejected_lines]
    words = report_markdown(report)
    if plan is not None and report.rows_scored:  # the download marks whom the plan targets
        planned = target.with_name(f".{target.name}")
        campaign = plan_file(target, planned, plan)
        planned.replace(target)
        words += "\n\n" + planned_markdown(plan, campaign)
    return (
        _message(),
        words,
        gr.Plot(charts.probability_histogram(report.probabilities, threshold), visible=True),
        gr.Dataframe(value=lines, visible=bool(lines)),
        gr.DownloadButton(f"Download {target.name}", value=str(target), visible=True),
        [*kept, str(target)],
    )


def remove_files(paths: list[str] | None) -> None:
    """Removes a page's files, each with its own folder in Gradio's (one per file)."""
    gradio_folder = Path(get_upload_folder()).resolve()
    for path in paths or []:
        folder = Path(path).resolve().parent
        if folder.parent == gradio_folder:
            shutil.rmtree(folder, ignore_errors=True)


# Targeting.


@dataclass(frozen=True)
class TargetingTab:
    card: gr.State  # the card last read, or None
    plan: gr.State  # the Plan the user chose, or None: the served threshold
    message: gr.Markdown
    threshold: gr.Slider
    reach: gr.Slider
    visitors: gr.Number
    summary: gr.Markdown
    chart: gr.Plot

    @property
    def refreshed(self) -> list[Any]:
        return [self.card, self.plan, self.message, self.threshold, self.reach, self.visitors,
                self.summary, self.chart]  # fmt: skip


def _targeting_tab(client: ServiceClient, plan: gr.State) -> TargetingTab:
    # Server-side state: a slider's value in the page may lag behind an update on its way.
    card = gr.State(None)
    gr.Markdown(
        "Choose the probability of buying from which visitors are targeted, or the share of "
        "visitors to reach: the other follows. The figures were measured on the model's test "
        "visitors."
    )
    message = gr.Markdown(visible=False, elem_id="targeting-message", elem_classes="juice-message")
    with gr.Row():
        threshold = gr.Slider(0, 100, value=50, step=0.1, elem_id="threshold-slider",
                              label="Target from a probability of buying of (%)")  # fmt: skip
        reach = gr.Slider(0, 100, value=10, step=0.1, label="Share of visitors to reach (%)",
                          elem_id="reach-slider")  # fmt: skip
        visitors = gr.Number(value=DEFAULT_VISITORS, label="Visitors in the campaign", precision=0,
                             elem_id="campaign-visitors")  # fmt: skip
    summary = gr.Markdown(elem_id="targeting-summary")
    chart = gr.Plot(show_label=False, format="png", visible=False, elem_id="targeting-chart")
    outputs = [card, plan, message, summary, chart]
    moves = partial(_plan, client)
    # The app's API: plan_by_threshold(percent, visitors), plan_by_reach(percent, visitors)
    threshold.input(partial(moves, "threshold"), [card, threshold, visitors], [*outputs, reach],
                    show_progress="hidden", api_name="plan_by_threshold", **IN_ORDER)  # fmt: skip
    reach.input(partial(moves, "reach"), [card, reach, visitors], [*outputs, threshold],
                show_progress="hidden", api_name="plan_by_reach", **IN_ORDER)  # fmt: skip
    visitors.input(partial(moves, "visitors"), [card, threshold, visitors], [*outputs, reach],
                   show_progress="hidden", api_visibility="private", **IN_ORDER)  # fmt: skip
    return TargetingTab(card, plan, message, threshold, reach, visitors, summary, chart)


def _plan(
    client: ServiceClient,
    moved: str,
    card: dict | None,
    percent: float | None,
    visitors: float | None,
) -> tuple[Any, ...]:
    """A control moved: the nearest table row, the other slider on it, the plan for it.
    Both sliders are in percent; the table in shares. Returns the card, the plan, the
    message, the summary, the chart and the other slider's value."""
    if card is None:  # the service was down when the page opened: ask again now
        try:
            card = client.model_card()
        except ServiceError as error:
            return None, gr.skip(), _problem(error), gr.skip(), gr.skip(), gr.skip()
    if percent is None:  # the slider's box emptied
        text = "Type a percentage, or move the slider."
        return card, gr.skip(), _message(text), gr.skip(), gr.skip(), gr.skip()
    rows = targeting_rows(card)
    if rows is None:
        return card, None, _message(RETRAIN), "", gr.Plot(visible=False), gr.skip()
    if visitors is None or not 1 <= visitors <= MAX_VISITORS or visitors != int(visitors):
        text = f"Visitors in the campaign must be a whole number from 1 to {MAX_VISITORS:,}."
        return card, gr.skip(), _message(text), gr.skip(), gr.skip(), gr.skip()
    if moved == "reach":
        row = nearest_reach(rows, percent / 100)
        other = _percent(row.threshold)
    else:
        row = nearest_threshold(rows, percent / 100)
        other = _percent(row.reach)
    summary, chart = _targeting_view(rows, card, row, int(visitors))
    by = "reach" if moved == "reach" else "threshold"
    return (
        card,
        Plan(by, row.threshold, row.reach, int(visitors)),
        _message(),
        summary,
        chart,
        other,
    )


def _percent(share: float) -> float:
    return round(share * 100, 1)


def _targeting_view(
    rows: list[TargetingRow], card: dict[str, Any], chosen: TargetingRow, visitors: int
) -> tuple[str, Any]:
    served = nearest_threshold(rows, card["threshold"])
    return (
        campaign_markdown(chosen, served, visitors, card["threshold"]),
        gr.Plot(charts.targeting_figure(rows, card["threshold"], chosen.threshold), visible=True),
    )


# Model.


@dataclass(frozen=True)
class ModelTab:
    message: gr.Markdown
    card: gr.Markdown
    effects: gr.Markdown
    chart: gr.Plot
    record: gr.Markdown
    record_chart: gr.Plot

    @property
    def refreshed(self) -> list[Any]:
        return [self.message, self.card, self.effects, self.chart, self.record, self.record_chart]


def _model_tab() -> ModelTab:
    message = gr.Markdown(visible=False, elem_id="model-message", elem_classes="juice-message")
    with gr.Row():
        with gr.Column(scale=2):
            card = gr.Markdown(elem_id="model-card")
            effects = gr.Markdown(elem_id="model-effects")
        chart = gr.Plot(
            show_label=False, format="png", visible=False, elem_id="effects-chart", scale=3
        )
    with gr.Row():
        with gr.Column(scale=2):
            record = gr.Markdown(elem_id="model-record")
        record_chart = gr.Plot(
            show_label=False, format="png", visible=False, elem_id="record-chart", scale=3
        )
    return ModelTab(message, card, effects, chart, record, record_chart)


def _refresh_card(
    client: ServiceClient,
    targeting: TargetingTab,
    model: ModelTab,
    old: dict[str, Any] | None,
    plan: Plan | None,
) -> dict[Any, Any]:
    """The card into both tabs that show it, or the reason it is not there. The user's
    plan is kept while the model stays the same; a new model starts at its threshold."""
    try:
        card = client.model_card()
    except ServiceError as error:
        return {  # the card already shown stays usable: planning needs no service
            targeting.message: _problem(error),
            model.message: _problem(error),
        }
    same = old is not None and old.get("version") == card.get("version")
    try:
        record = client.record()
    except ServiceError:  # an older service, or one busy: the card still shows
        record = None
    return {
        targeting.card: card,
        targeting.plan: plan if same else None,
        **_model_view(model, card, record),
        **_targeting_refresh(targeting, card, plan if same else None),
    }


def _model_view(
    model: ModelTab, card: dict[str, Any], record: dict[str, Any] | None
) -> dict[Any, Any]:
    effects = card.get("effects") or []
    exports = (record or {}).get("exports") or []
    return {
        model.message: _message(),
        model.card: model_markdown(card),
        model.record: record_markdown(record) if record else RECORD_UNAVAILABLE,
        model.record_chart: gr.Plot(
            charts.record_figure(exports, record.get("promised_precision"))
            if record and exports
            else None,
            visible=bool(exports),
        ),
        model.effects: effects_markdown(effects),
        model.chart: gr.Plot(
            charts.effects_figure(effects) if effects else None, visible=bool(effects)
        ),
    }


def _targeting_refresh(
    targeting: TargetingTab, card: dict[str, Any], plan: Plan | None
) -> dict[Any, Any]:
    rows = targeting_rows(card)
    if rows is None:
        return {
            targeting.message: _message(RETRAIN),
            targeting.summary: "",
            targeting.chart: gr.Plot(visible=False),
        }
    threshold, visitors = (
        (plan.threshold, plan.visitors) if plan else (card["threshold"], DEFAULT_VISITORS)
    )
    chosen = nearest_threshold(rows, threshold)
    summary, chart = _targeting_view(rows, card, chosen, int(visitors))
    lowest, highest = rows[0].threshold * 100, rows[-1].threshold * 100
    return {
        targeting.message: _message(),
        targeting.threshold: gr.Slider(
            minimum=math.floor(lowest * 10) / 10,
            maximum=math.ceil(highest * 10) / 10,
            value=_percent(chosen.threshold),
        ),
        targeting.reach: gr.Slider(value=_percent(chosen.reach)),
        targeting.visitors: int(visitors),
        targeting.summary: summary,
        targeting.chart: chart,
    }


# Serving.


def launch(
    app: gr.Blocks,
    host: str,
    port: int,
    users: list[tuple[str, str]],
    *,
    block: bool,
    max_upload_bytes: int | None = None,
) -> None:
    """Starts the app's web server; `block` waits until it stops (Ctrl-C). Uploads over
    `max_upload_bytes` are refused before they are stored."""
    check_binding(host, users)
    matplotlib.use("agg")  # charts are drawn off-screen, in worker threads
    app.queue(default_concurrency_limit=4).launch(
        server_name=host,
        server_port=port,
        max_file_size=max_upload_bytes,
        auth=users or None,
        app_kwargs={"middleware": [Middleware(LoginThrottle)]} if users else None,
        auth_message="PolJuice: sign in with the user and password the data team gave you.",
        prevent_thread_lock=not block,
        quiet=True,
        show_error=False,  # errors are sentences in the page, never tracebacks
        footer_links=[],
        run_history=False,  # visitors' data stays out of the browser's storage
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        css=CSS,
    )


def serve_ui(
    api_url: str,
    token: str | None,
    host: str,
    port: int,
    users: list[tuple[str, str]],
    max_upload_bytes: int | None = None,
    keep_days: int | None = None,
) -> None:
    """Serves the web app until stopped, calling the service at `api_url` (with `token`);
    uploads bounded by `max_upload_bytes`, no file kept beyond `keep_days`.

    Raises:
        ValueError: `host` is beyond loopback and `users` is empty, or `token` is empty.
    """
    if token is not None and not token:
        raise ValueError("the API token is empty: unset it or give the service's token")
    check_binding(host, users)
    app = build_app(ServiceClient(api_url, token), max_upload_bytes, keep_days)
    launch(app, host, port, users, block=True, max_upload_bytes=max_upload_bytes)
