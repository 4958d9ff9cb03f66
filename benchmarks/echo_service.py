"""The serving benchmark's ceiling: the same framework, input and output specs and
API options as our /predict, no model work."""

from __future__ import annotations

import bentoml
import numpy as np

from juice.adapters.bento import PREDICT_API, strict_input
from juice.serving.api import Prediction, predictions, visits_type
from juice.settings import Settings

Visits = visits_type()
VisitsInput = strict_input(Visits)


@bentoml.service(name="echo", workers=Settings().api_workers)
class Echo:
    @bentoml.api(input_spec=VisitsInput, **PREDICT_API)
    async def predict(self, visits: Visits) -> list[Prediction]:  # type: ignore[valid-type]
        half = np.full(len(visits), 0.5)
        return predictions(half, half > 1, 0.5, "echo")
