"""The serving benchmark's ceiling: the same framework, input and output specs and
batching as our /predict, no model work."""

from __future__ import annotations

import os
from typing import Annotated

import bentoml
import numpy as np
from pydantic import Field

from juice.api import MAX_VISITS, Prediction, predictions, visit_model
from juice.bento import PredictionsJSON

Visit = visit_model()


@bentoml.service(name="echo", workers=int(os.environ.get("JUICE_API_WORKERS", "2")))
class Echo:
    @bentoml.api(
        batchable=True, max_batch_size=MAX_VISITS, max_latency_ms=2000, output_spec=PredictionsJSON
    )
    def predict(
        self,
        visits: Annotated[list[Visit], Field(min_length=1, max_length=MAX_VISITS)],  # type: ignore[valid-type]
    ) -> list[Prediction]:
        half = np.full(len(visits), 0.5)
        return predictions(half, half > 1, 0.5, "echo")
