"""BentoML service: the champion model over HTTP. Thin: the logic lives in `juice`.

Routes: POST /predict (JSON), POST /explain (the same, with log-odds contributions),
POST /predict_csv (multipart `file`, option `broken_lines`; a Starlette route, streamed),
GET|POST /model (the model card), and BentoML's /metrics, /healthz, /readyz, /docs.json.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
import bentoml
import numpy as np
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from juice.adapters.asgi_guard import JSON, MULTIPART, BodyRefused, Guard, error_response
from juice.adapters.bento import (
    PREDICT_API,
    log_client_errors_in_one_line,
    packed_champion,
    strict_input,
)
from juice.adapters.upload import Upload, file_chunks, receive_upload, upload_openapi
from juice.data.parsing import ParseError
from juice.model.scoring import score_file
from juice.model.served import ServedModel
from juice.registry.store import Registry
from juice.registry.tags import OUTSIDE
from juice.serving.api import (
    Explanation,
    Prediction,
    explanations,
    predictions,
    rejected_lines_header,
    visits_matrix,
    visits_type,
)
from juice.serving.champion import Champion
from juice.serving.config import ServiceConfig, steady_collector
from juice.serving.metrics import service_metrics
from juice.serving.predictionlog import PredictionLog

CONFIG = ServiceConfig.read()  # all the decorators below need, read once
log_client_errors_in_one_line()
Visits = visits_type(CONFIG.max_seconds)
VisitsInput = strict_input(Visits)  # {"visits": [...]} and no other key
CSV = "text/csv"
BROKEN_LINES = "broken_lines"
UPLOAD_CHOICES = {BROKEN_LINES: ("refuse", "skip")}


async def predict_csv(request: Request) -> Response:
    """An export (header and label optional) in; its rows with probability,will_buy out.
    Broken lines refuse the file, or with `broken_lines=skip` are listed in the
    `X-Rejected-Lines` header (JSON [line, reason] pairs, the first 50) and counted in
    `X-Rows-Rejected`, while the good rows are scored. The upload streams to disk and is
    scored in chunks, so a worker's memory stays bounded whatever the file's size."""
    service = bentoml.get_current_service()
    with tempfile.TemporaryDirectory(prefix="juice-upload-") as folder:
        try:
            upload = await receive_upload(request, Path(folder), UPLOAD_CHOICES)
        except BodyRefused as refused:  # a mounted app answers any exception with a 500
            return refused.response
        except ClientDisconnect:  # gone mid-upload: whatever is answered is not read
            return Response(status_code=400)
        output = Path(folder) / "scored.csv"
        return await anyio.to_thread.run_sync(service.score_csv, upload, output)


UPLOADS = Starlette(routes=[Route("/predict_csv", predict_csv, methods=["POST"])])


@bentoml.asgi_app(UPLOADS, path="/")
@bentoml.service(
    name="poljuice",
    workers=CONFIG.workers,
    traffic={"timeout": 60},
    logging={"access": {"enabled": CONFIG.settings.api_access_log}},
)
class PolJuice:
    """Scores shop visits with the champion: the registry's, followed as it changes, or
    the one packed in the bento being served."""

    def __init__(self) -> None:
        settings = CONFIG.settings
        self.metrics = service_metrics()
        if PolJuice.bento is None:  # the workspace: follow the registry's champion
            self.champion = Champion(Registry(settings))
            self.champion.look(on_change=self._announce)  # not ready until there is one
            self.champion.watch(settings.reload_seconds, on_change=self._announce)
        else:  # a built bento serves the champion packed in it, registry or not
            self.champion = Champion(None, packed_champion())
            self._announce(self.champion.current)
        self.log = PredictionLog(
            settings.workspace.prediction_log, keep_days=settings.retention_days
        )
        steady_collector()

    def _record(
        self, model: ServedModel, matrix: np.ndarray, probability: np.ndarray, decision: np.ndarray
    ) -> None:
        """Traffic scored by `model`: into the metrics and the prediction log."""
        self.metrics.observe(matrix, probability, decision)
        self.log.record(matrix, probability, decision, model.version)

    def _announce(self, model: ServedModel) -> None:
        self.metrics.announce(model.card)
        promotion = self.champion.promotion
        if promotion is not None and promotion.by == OUTSIDE:
            logging.getLogger("juice.service").warning(
                "serving v%s: %s", model.version, promotion.reason
            )

    def __is_ready__(self) -> bool:
        return self.champion.ready

    @bentoml.api(input_spec=VisitsInput, **PREDICT_API)
    async def predict(
        self,
        visits: Visits,  # type: ignore[valid-type]
    ) -> list[Prediction]:
        """Purchase probability and decision for each visit, in order."""
        model = self.champion.current
        matrix = visits_matrix(visits)
        probability, decision = model.score(matrix)
        self._record(model, matrix, probability, decision)
        return predictions(probability, decision, model.threshold, model.version)

    @bentoml.api(route="/explain", input_spec=VisitsInput)
    async def explain(
        self,
        visits: Visits,  # type: ignore[valid-type]
    ) -> list[Explanation]:
        """Each visit's prediction with its exact decomposition in log-odds, relative to
        the reference visitor on the card: baseline + sum(contributions) = logit(p).
        BentoML's request metrics count it; the juice_* traffic metrics and the prediction
        log do not (an explanation is a probe, not traffic to monitor)."""
        model = self.champion.current
        matrix = visits_matrix(visits)
        probability, decision = model.score(matrix)
        answers = predictions(probability, decision, model.threshold, model.version)
        explainer = model.explainer
        return explanations(answers, explainer.baseline, explainer.contributions(matrix))

    def score_csv(self, upload: Upload, output: Path) -> Response:
        """Scores an uploaded export into `output`, chunk by chunk; the answer (see
        `predict_csv`), or a 400 listing the lines that break the format."""
        model = self.champion.current
        skip = upload.options[BROKEN_LINES] == "skip"

        try:
            scoring = score_file(
                upload.path, output, model, max_seconds=CONFIG.max_seconds,
                refuse_broken=not skip, show=50 if skip else 20,
                observe=partial(self._record, model),
            )  # fmt: skip
        except ParseError as error:
            return error_response(400, "file", error.reason)
        if not scoring.lines_read:
            return error_response(400, "file", "the file holds no visit (a header row only?)")
        if not scoring.rows_scored:
            rule = f"{scoring.lines_broken} of {scoring.lines_read} lines break the export format"
            detail = [{"loc": ["file", "line", line], "msg": why} for line, why in scoring.problems]
            return error_response(400, "file", rule, detail)
        headers = {
            "X-Model-Version": model.version,
            "X-Rows-Scored": str(scoring.rows_scored),
            "X-Rows-Rejected": str(scoring.lines_broken),
            "X-Rejected-Lines": rejected_lines_header(scoring.problems),
        }
        # Streamed from the open file, which outlives its folder's removal (POSIX).
        return StreamingResponse(file_chunks(output.open("rb")), media_type=CSV, headers=headers)

    @bentoml.api(route="/record")
    def record(self) -> dict[str, Any]:
        """How the serving model is doing since it began serving: on each labelled export a
        drift check judged, the precision and recall it realised at its threshold beside
        what it promised on its test data; on the visits it scored here (not labelled
        yet), the precision it expects of those it targeted; and the timeline of drift
        incidents and changes of champion, with the reason for each."""
        return self.champion.standing(CONFIG.settings.workspace.prediction_log).to_dict()

    @bentoml.api(route="/model")
    def model(self) -> dict[str, Any]:
        """The serving model's card: version, threshold, metrics, data version, effects,
        the targeting table (precision, recall and reach by threshold, on test data) and
        the reference visitor of the explanations; and `promotion`: when, by whom and why
        it became the champion (`by` "outside juice": its alias was moved in MLflow, no
        gate judged it), null for a bento's packed model."""
        promotion = self.champion.promotion
        return asdict(self.champion.current.card) | {
            "promotion": asdict(promotion) if promotion else None
        }


PolJuice.add_asgi_middleware(
    Guard,
    routes={
        "/predict": JSON,
        "/explain": JSON,
        "/predict_csv": MULTIPART,
        "/model": None,
        "/record": None,
    },
    token=CONFIG.token,
    limits=CONFIG.limits,
    documented={
        "/predict_csv": upload_openapi(
            "Score an export file", inspect.getdoc(predict_csv) or "", UPLOAD_CHOICES
        )
    },
)
