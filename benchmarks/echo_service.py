"""The serving benchmark's ceiling: the same framework, input model and batching, no model work."""

from __future__ import annotations

import os
from typing import Annotated

import bentoml
from pydantic import Field

from juice.api import MAX_VISITS, Prediction, visit_model

Visit = visit_model()


@bentoml.service(name="echo", workers=int(os.environ.get("JUICE_API_WORKERS", "2")))
class Echo:
    @bentoml.api(batchable=True, max_batch_size=MAX_VISITS, max_latency_ms=2000)
    def predict(
        self,
        visits: Annotated[list[Visit], Field(min_length=1, max_length=MAX_VISITS)],  # type: ignore[valid-type]
    ) -> list[Prediction]:
        return [
            Prediction(probability=0.5, will_buy=False, threshold=0.5, model_version="echo")
            for _ in visits
        ]
