"""BentoML adapter: the champion packed in a bento, and /predict's output spec.

`build_bento` copies the registry's champion (its MLflow model; its card as metadata) into the
BentoML model store, then builds `bentofile.yaml`, which includes that model. A service
running from the bento serves `packed_champion()` and needs no registry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import bentoml
from pydantic import ConfigDict, TypeAdapter, ValidationError
from starlette.responses import Response

from juice.adapters.asgi_guard import JSON
from juice.model.card import ModelCard
from juice.model.served import ServedModel
from juice.registry.store import Registry
from juice.serving.api import Prediction
from juice.settings import Settings
from juice.workspace import BENTOFILE, PROJECT_ROOT

BENTO_HTTP_LOGGER = "bentoml._internal.server.http_app"  # logs the errors BentoML answers
BENTO_MODEL = "poljuice-champion"  # the name bentofile.yaml includes
MODEL_FOLDER = "mlflow-model"
CARD_METADATA = "card"  # the card as JSON: metadata holds only plain values, never None
_PREDICTIONS = TypeAdapter(list[Prediction])


def _predictions() -> list[Prediction]:  # pragma: no cover - only its signature is read
    raise NotImplementedError


class PredictionsJSON(bentoml.IODescriptor.from_output(_predictions)):  # type: ignore[misc]
    """/predict's answer, serialised in one pydantic-core call.

    BentoML's default for a root list dumps it to Python objects twice and then through
    `json.dumps`; for 1,000 visits that costs more than scoring them. Its base is the spec
    BentoML itself derives for a function returning `list[Prediction]` (its public
    `IODescriptor.from_output`), so the OpenAPI document is the same.
    """

    media_type = JSON

    @classmethod
    async def to_http_response(cls, obj: Any, serde: Any) -> Response:
        return Response(_PREDICTIONS.dump_json(obj), media_type=JSON)


def strict_input(visits: Any) -> type[bentoml.IODescriptor]:
    """/predict's input spec: `{"visits": [...]}` and no other key (BentoML's derived spec
    ignores unknown keys; this one answers 400 naming them)."""

    def visits_only(visits: Any) -> None:  # pragma: no cover - only its signature is read
        raise NotImplementedError

    visits_only.__annotations__ = {"visits": visits, "return": None}

    class VisitsInput(bentoml.IODescriptor.from_input(visits_only)):  # type: ignore[misc]
        model_config = ConfigDict(extra="forbid")

    return VisitsInput


# /predict's API options, shared with the benchmark's echo service (its ceiling). Not
# batched: a request is already a batch of visits, and BentoML's adaptive batcher
# answers 503 to whatever it expects to wait past its latency budget, so a burst of large
# requests failed instead of queueing. The guard sheds load beyond a set capacity instead.
PREDICT_API: dict[str, Any] = {"output_spec": PredictionsJSON}


def pack_champion(settings: Settings) -> str:
    """Copies the registry's champion into the BentoML model store; returns its tag."""
    registry = Registry(settings)
    version = registry.require_champion()
    card = registry.card(version)
    labels = {"registry": settings.model_name, "version": version}
    with bentoml.models.create(
        BENTO_MODEL, labels=labels, metadata={CARD_METADATA: card.to_json()}
    ) as model:
        registry.download(version, Path(model.path_of(MODEL_FOLDER)))
    return str(model.tag)


def build_bento(settings: Settings) -> tuple[str, str]:
    """Packs the champion and builds the bento; returns (bento tag, packed model tag)."""
    model = pack_champion(settings)
    bento = bentoml.bentos.build_bentofile(str(BENTOFILE), build_ctx=str(PROJECT_ROOT))
    return str(bento.tag), model


def packed_champion() -> ServedModel:
    """The model packed in the bento being served (the latest packed, outside one)."""
    import mlflow.sklearn

    model = bentoml.models.get(f"{BENTO_MODEL}:latest")
    card = ModelCard.from_json(str(model.info.metadata[CARD_METADATA]))
    return ServedModel(mlflow.sklearn.load_model(model.path_of(MODEL_FOLDER)), card)


class ClientErrorsInOneLine(logging.Filter):
    """BentoML logs every 400 it answers for a body that fails validation as an ERROR with
    its traceback: a client's mistake, not the server's, and a way to flood the log. Such
    a record keeps one line, at WARNING; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            record.msg = (
                f"{record.getMessage()}: answered 400 ({error.title}: {error.error_count()} errors)"
            )
            record.args, record.exc_info, record.exc_text = None, None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def log_client_errors_in_one_line() -> None:
    logging.getLogger(BENTO_HTTP_LOGGER).addFilter(ClientErrorsInOneLine())
