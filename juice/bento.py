"""BentoML adapter: the champion packed in a bento, and /predict's output spec.

`build_bento` copies the registry's champion (its MLflow model; its card as metadata) into the
BentoML model store, then builds `bentofile.yaml`, which includes that model. A service
running from the bento serves `packed_champion()` and needs no registry.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from _bentoml_sdk.io_models import IORootModel  # BentoML exports only IODescriptor
from pydantic import TypeAdapter
from starlette.responses import Response

from juice.api import MAX_VISITS, Prediction
from juice.errors import JuiceError
from juice.guard import JSON
from juice.registry import ModelCard, Registry
from juice.serving import ServedModel
from juice.settings import PROJECT_ROOT, Settings

BENTO_MODEL = "poljuice-champion"  # the name bentofile.yaml includes; its metadata is the card
MODEL_FOLDER = "mlflow-model"
_PREDICTIONS = TypeAdapter(list[Prediction])


class PredictionsJSON(IORootModel[list[Prediction]]):
    """/predict's answer, serialised in one pydantic-core call.

    BentoML's default for a root list dumps it to Python objects twice and then through
    `json.dumps`; for 1,000 visits that costs more than scoring them.
    """

    media_type = JSON

    @classmethod
    async def to_http_response(cls, obj: Any, serde: Any) -> Response:
        return Response(_PREDICTIONS.dump_json(obj), media_type=JSON)


# /predict's API options, shared with the benchmark's echo service (its ceiling):
# concurrent requests are scored together, up to MAX_VISITS visits or 2 s of waiting.
PREDICT_API: dict[str, Any] = {
    "batchable": True,
    "max_batch_size": MAX_VISITS,
    "max_latency_ms": 2000,
    "output_spec": PredictionsJSON,
}


def pack_champion(settings: Settings) -> str:
    """Copies the registry's champion into the BentoML model store; returns its tag."""
    import bentoml

    registry = Registry(settings)
    version = registry.champion_version()
    if version is None:
        raise JuiceError("no champion model yet: run `juice train` first")
    card = registry.card(version)
    labels = {"registry": settings.model_name, "version": version}
    with bentoml.models.create(BENTO_MODEL, labels=labels, metadata=asdict(card)) as model:
        registry.download(version, Path(model.path_of(MODEL_FOLDER)))
    return str(model.tag)


def build_bento(settings: Settings) -> tuple[str, str]:
    """Packs the champion and builds the bento; returns (bento tag, packed model tag)."""
    import bentoml

    model = pack_champion(settings)
    bento = bentoml.bentos.build_bentofile(
        str(PROJECT_ROOT / "bentofile.yaml"), build_ctx=str(PROJECT_ROOT)
    )
    return str(bento.tag), model


def packed_champion() -> ServedModel:
    """The model packed in the bento being served (the latest packed, outside one)."""
    import bentoml
    import mlflow.sklearn

    model = bentoml.models.get(f"{BENTO_MODEL}:latest")
    card = ModelCard(**model.info.metadata)
    return ServedModel(mlflow.sklearn.load_model(model.path_of(MODEL_FOLDER)), card)
