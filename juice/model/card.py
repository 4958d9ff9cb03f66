"""The model card: what a trained model is, enough to explain and audit each prediction."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from juice.model.matrix import MODEL_COLUMNS

if TYPE_CHECKING:  # an annotation only: importing it would import scikit-learn
    from juice.model.training import TrainedModel

CARD_FILE = "model_card.json"  # its name among a run's artifacts


@dataclass(frozen=True)
class ModelCard:
    """What a served model is: enough to explain and audit every prediction it makes."""

    name: str
    version: str
    run_id: str
    threshold: float
    beta: float
    metrics: dict[str, float]
    dataset_version: str | None
    trained_at: str
    rows: dict[str, int]
    best_params: dict[str, Any]
    effects: list[dict[str, Any]]
    columns: list[str]
    # Absent from cards written before they existed: such a model needs retraining to plan.
    targeting: list[dict[str, float]] | None = None
    reference: dict[str, Any] | None = None  # the visitor explanations are relative to
    data_hash: str | None = None  # the content hash of the exact data it was trained on

    @property
    def expected_buy_share(self) -> float | None:
        """The share of visitors it decides "buy" for on its test data (the targeting
        reach at its threshold): what its traffic should show; None without targeting."""
        if not self.targeting:
            return None
        # The table has a row at the threshold itself unless it targets no test visitor
        # (rows that target nobody are left out); reach only falls as thresholds rise.
        at_or_above = [row for row in self.targeting if row["threshold"] >= self.threshold]
        return min(at_or_above, key=lambda row: row["threshold"])["reach"] if at_or_above else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls(**json.loads(text))


def card_for(
    trained: TrainedModel,
    *,
    name: str,
    version: str,
    run_id: str,
    dataset_version: str | None,
    data_hash: str | None = None,
) -> ModelCard:
    """The card of a trained model registered as `name` version `version`."""
    return ModelCard(
        name=name,
        version=version,
        run_id=run_id,
        threshold=trained.threshold.threshold,
        beta=trained.threshold.beta,
        metrics=trained.evaluation.metrics(),
        dataset_version=dataset_version,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rows={
            "train": len(trained.split.y_train),
            "validation": len(trained.split.y_validation),
            "test": len(trained.split.y_test),
        },
        best_params=trained.best_params,
        effects=[asdict(effect) for effect in trained.effects],
        columns=list(MODEL_COLUMNS),
        targeting=[asdict(row) for row in trained.targeting],
        reference=trained.reference.to_dict(),
        data_hash=data_hash,
    )
