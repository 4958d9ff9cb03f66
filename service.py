"""BentoML service: the champion model over HTTP. Thin: the logic lives in `juice`.

Routes: POST /predict (JSON, adaptive batching), POST /predict_csv (multipart `file`),
GET|POST /model (the model card), and BentoML's /metrics, /healthz, /readyz, /docs.json.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import bentoml
import numpy as np
from bentoml.validators import ContentType
from prometheus_client import Counter, Gauge, Histogram
from starlette.responses import Response

from juice.api import Prediction, predictions, visits_matrix, visits_type
from juice.bento import PREDICT_API, packed_champion
from juice.features import AGE_COLUMN, FIRST_FLAVOUR_COLUMN
from juice.guard import JSON, MULTIPART, Guard, client_error
from juice.params import load_params
from juice.parsing import ParseError
from juice.registry import Registry
from juice.schema import FLAVOURS
from juice.scoring import PROBABILITY, WILL_BUY, score_upload, write_scored
from juice.serving import Champion, PredictionLog, ServedModel
from juice.settings import Settings

SETTINGS = Settings()
MAX_SECONDS = load_params(SETTINGS.params_file).build_dataset.max_seconds
Visits = visits_type(MAX_SECONDS)

# Ours, beside BentoML's request metrics; prometheus_client aggregates them across workers.
PREDICTIONS = Counter("juice_predictions", "Visits scored, by decision", ["decision"])
PROBABILITY_HISTOGRAM = Histogram(
    "juice_predicted_probability",
    "Predicted purchase probability",
    buckets=[round(0.1 * i, 1) for i in range(1, 11)],
)
WATCHED = Counter("juice_ad_watched_visits", "Scored visits that watched each ad", ["flavour"])
WATCH_SECONDS = Counter(
    "juice_ad_watch_seconds", "Seconds watched per ad in scored visits", ["flavour"]
)
AGE = Histogram(
    "juice_visitor_age", "Age of scored visitors", buckets=[25, 35, 45, 55, 65, 75, 100]
)
MODEL_INFO = Gauge(
    "juice_model_info", "1 for the version a worker serves", ["version"], multiprocess_mode="max"
)
MODEL_SWAPS = Counter("juice_model_swaps", "Champion models loaded by the workers")


def _observe(matrix: np.ndarray, probability: np.ndarray, decision: np.ndarray) -> None:
    buyers = int(decision.sum())
    PREDICTIONS.labels("buy").inc(buyers)
    PREDICTIONS.labels("no_buy").inc(len(decision) - buyers)
    _observe_many(PROBABILITY_HISTOGRAM, probability)
    _observe_many(AGE, matrix[:, AGE_COLUMN])
    seconds = matrix[:, FIRST_FLAVOUR_COLUMN:]
    watched, total = (seconds > 0).sum(axis=0), seconds.sum(axis=0)
    for j, flavour in enumerate(FLAVOURS):
        if watched[j]:
            WATCHED.labels(flavour).inc(int(watched[j]))
            WATCH_SECONDS.labels(flavour).inc(float(total[j]))


def _observe_many(histogram: Histogram, values: np.ndarray) -> None:
    """`observe` for a whole batch: one increment per bucket, not one per value (a
    multiprocess observe writes a file; 1,000 of them per request cost milliseconds).
    Relies on prometheus_client's bucket layout (non-cumulative `_buckets`, `_sum`)."""
    bounds = np.asarray(histogram._upper_bounds)  # noqa: SLF001
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts, strict=False):  # noqa: SLF001
        if count:
            bucket.inc(int(count))
    histogram._sum.inc(float(values.sum()))  # noqa: SLF001


def _announce(model: ServedModel) -> None:
    for sample in MODEL_INFO.collect()[0].samples:
        MODEL_INFO.labels(sample.labels["version"]).set(0)
    MODEL_INFO.labels(model.card.version).set(1)
    MODEL_SWAPS.inc()


@bentoml.service(name="poljuice", workers=SETTINGS.api_workers, traffic={"timeout": 60})
class PolJuice:
    """Scores shop visits with the champion: the registry's, followed as it changes, or
    the one packed in the bento being served."""

    def __init__(self) -> None:
        if PolJuice.bento is None:  # the workspace: follow the registry's champion
            self.champion = Champion(Registry(SETTINGS))
            if self.champion.refresh():
                _announce(self.champion.current)
            self.champion.watch(SETTINGS.reload_seconds, on_change=_announce)
        else:  # a built bento serves the champion packed in it, registry or not
            self.champion = Champion(None, packed_champion())
            _announce(self.champion.current)
        self.log = PredictionLog(SETTINGS.logs_dir / "predictions")

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
        _observe(matrix, probability, decision)
        self.log.record(matrix, probability, decision, model.card.version)
        return predictions(probability, decision, model.card.threshold, model.card.version)

    @bentoml.api(route="/predict_csv")
    def predict_csv(self, file: Path) -> Annotated[str, ContentType("text/csv")]:
        """An export (header and label optional) in; its rows with probability,will_buy out."""
        model = self.champion.current
        try:
            upload = score_upload(
                file, model.probabilities, threshold=model.card.threshold, max_seconds=MAX_SECONDS
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
            _observe(upload.matrix, probability, decision)
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
    token=SETTINGS.api_token.get_secret_value() if SETTINGS.api_token else None,
)
