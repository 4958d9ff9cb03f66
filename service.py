"""BentoML service: the champion model over HTTP. Thin: the logic lives in `juice`.

Routes: POST /predict (JSON, adaptive batching), POST /explain (the same, with log-odds
contributions), POST /predict_csv (multipart `file`, option `broken_lines`),
GET|POST /model (the model card), and BentoML's /metrics, /healthz, /readyz, /docs.json.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

import bentoml
from bentoml.validators import ContentType
from pydantic import Field
from starlette.responses import Response

from juice.adapters.asgi_guard import JSON, MULTIPART, Guard, client_error
from juice.adapters.bento import PREDICT_API, packed_champion
from juice.data.parsing import ParseError
from juice.model.scoring import score_upload, write_scored
from juice.registry.store import Registry
from juice.schema import PROBABILITY, WILL_BUY
from juice.serving.api import (
    Explanation,
    Prediction,
    explanations,
    predictions,
    rejected_lines_header,
    visits_matrix,
    visits_type,
)
from juice.serving.champion import Champion, ServedModel
from juice.serving.config import ServiceConfig
from juice.serving.metrics import service_metrics
from juice.serving.predictionlog import PredictionLog

CONFIG = ServiceConfig.read()  # all the decorators below need, read once
Visits = visits_type(CONFIG.max_seconds)


@bentoml.service(name="poljuice", workers=CONFIG.workers, traffic={"timeout": 60})
class PolJuice:
    """Scores shop visits with the champion: the registry's, followed as it changes, or
    the one packed in the bento being served."""

    def __init__(self) -> None:
        settings = CONFIG.settings
        self.metrics = service_metrics()
        if PolJuice.bento is None:  # the workspace: follow the registry's champion
            self.champion = Champion(Registry(settings))
            if self.champion.refresh():
                self._announce(self.champion.current)
            self.champion.watch(settings.reload_seconds, on_change=self._announce)
        else:  # a built bento serves the champion packed in it, registry or not
            self.champion = Champion(None, packed_champion())
            self._announce(self.champion.current)
        self.log = PredictionLog(settings.workspace.prediction_log)

    def _announce(self, model: ServedModel) -> None:
        self.metrics.announce(model.card)

    def __is_ready__(self) -> bool:
        return self.champion.ready

    @bentoml.api(**PREDICT_API)
    def predict(
        self,
        visits: Visits,  # type: ignore[valid-type]
    ) -> list[Prediction]:
        """Purchase probability and decision for each visit, in order."""
        model = self.champion.current
        matrix = visits_matrix(visits)
        probability = model.probabilities(matrix)
        decision = probability >= model.card.threshold
        self.metrics.observe(matrix, probability, decision)
        self.log.record(matrix, probability, decision, model.card.version)
        return predictions(probability, decision, model.card.threshold, model.card.version)

    @bentoml.api(route="/explain")
    def explain(
        self,
        visits: Visits,  # type: ignore[valid-type]
    ) -> list[Explanation]:
        """Each visit's prediction with its exact decomposition in log-odds, relative to
        the reference visitor on the card: baseline + sum(contributions) = logit(p).
        BentoML's request metrics count it; the juice_* traffic metrics and the prediction
        log do not (an explanation is a probe, not traffic to monitor)."""
        model = self.champion.current
        matrix = visits_matrix(visits)
        probability = model.probabilities(matrix)
        decision = probability >= model.card.threshold
        answers = predictions(probability, decision, model.card.threshold, model.card.version)
        explainer = model.explainer
        return explanations(answers, explainer.baseline, explainer.contributions(matrix))

    @bentoml.api(route="/predict_csv")
    def predict_csv(
        self,
        file: Path,
        broken_lines: Annotated[
            Literal["refuse", "skip"],
            Field(description="refuse: a 400 listing them; skip: score the good rows"),
        ] = "refuse",
    ) -> Annotated[str, ContentType("text/csv")]:
        """An export (header and label optional) in; its rows with probability,will_buy out.
        Broken lines refuse the file, or with `broken_lines=skip` are listed in the
        `X-Rejected-Lines` header (JSON [line, reason] pairs, the first 50) and counted
        in `X-Rows-Rejected`, while the good rows are scored."""
        model = self.champion.current
        skip = broken_lines == "skip"
        try:
            upload = score_upload(
                file,
                model.probabilities,
                threshold=model.card.threshold,
                max_seconds=CONFIG.max_seconds,
                skip_broken=skip,
                show=50 if skip else 20,
            )
        except ParseError as error:
            return client_error(400, "file", str(error).split(": ", 1)[-1])
        if upload.scored is not None and not upload.scored.height and not upload.lines_broken:
            return client_error(400, "file", "the file holds no visit (a header row only?)")
        if upload.scored is None or not upload.scored.height:
            rule = f"{upload.lines_broken} of {upload.lines_read} lines break the export format"
            detail = [{"loc": ["file", "line", line], "msg": why} for line, why in upload.problems]
            return client_error(400, "file", rule, detail)
        if upload.scored.height:
            probability = upload.scored[PROBABILITY].to_numpy()
            decision = upload.scored[WILL_BUY].to_numpy()
            self.metrics.observe(upload.matrix, probability, decision)
            self.log.record(upload.matrix, probability, decision, model.card.version)
        return Response(
            write_scored(upload.scored),
            media_type="text/csv",
            headers={
                "X-Model-Version": model.card.version,
                "X-Rows-Scored": str(upload.scored.height),
                "X-Rows-Rejected": str(upload.lines_broken),
                "X-Rejected-Lines": rejected_lines_header(upload.problems),
            },
        )

    @bentoml.api(route="/model")
    def model(self) -> dict[str, Any]:
        """The serving model's card: version, threshold, metrics, data version, effects,
        the targeting table (precision, recall and reach by threshold, on test data) and
        the reference visitor of the explanations."""
        return asdict(self.champion.current.card)


PolJuice.add_asgi_middleware(
    Guard,
    routes={"/predict": JSON, "/explain": JSON, "/predict_csv": MULTIPART, "/model": None},
    form_fields={"file", "broken_lines"},
    token=CONFIG.token,
)
