"""BentoML service: the champion model over HTTP. Thin: the logic lives in `juice`.

Routes: POST /predict (JSON, adaptive batching), POST /predict_csv (multipart `file`),
GET|POST /model (the model card), and BentoML's /metrics, /healthz, /readyz, /docs.json.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.validators import ContentType
from starlette.responses import Response

from juice.adapters.asgi_guard import JSON, MULTIPART, Guard, client_error
from juice.adapters.bento import PREDICT_API, packed_champion
from juice.data.parsing import ParseError
from juice.model.scoring import PROBABILITY, WILL_BUY, score_upload, write_scored
from juice.registry.store import Registry
from juice.serving.api import Prediction, predictions, visits_matrix, visits_type
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
        self.metrics.announce(model.card.version)

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

    @bentoml.api(route="/predict_csv")
    def predict_csv(self, file: Path) -> Annotated[str, ContentType("text/csv")]:
        """An export (header and label optional) in; its rows with probability,will_buy out."""
        model = self.champion.current
        try:
            upload = score_upload(
                file,
                model.probabilities,
                threshold=model.card.threshold,
                max_seconds=CONFIG.max_seconds,
            )
        except ParseError as error:
            return client_error(400, "file", str(error).split(": ", 1)[-1])
        if upload.scored is None:
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
            headers={"X-Model-Version": model.card.version},
        )

    @bentoml.api(route="/model")
    def model(self) -> dict[str, Any]:
        """The serving model's card: version, threshold, metrics, data version, effects."""
        return asdict(self.champion.current.card)


PolJuice.add_asgi_middleware(
    Guard,
    routes={"/predict": JSON, "/predict_csv": MULTIPART, "/model": None},
    token=CONFIG.token,
)
