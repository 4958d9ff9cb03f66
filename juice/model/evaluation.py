"""Model evaluation on held-out data: metrics, calibration, per-flavour effects, plots."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from juice.model.decision import decide
from juice.model.matrix import FIRST_FLAVOUR_COLUMN
from juice.model.thresholds import fbeta
from juice.schema import FLAVOURS

CALIBRATION_BINS = 10
# The headline metrics, shown by `juice train` and `juice models`.
SUMMARY_METRICS = ("roc_auc", "average_precision", "precision", "recall", "fbeta")


@dataclass(frozen=True)
class Evaluation:
    """Metrics of scores against outcomes at one decision threshold."""

    rows: int
    purchase_rate: float
    roc_auc: float
    average_precision: float
    precision: float
    recall: float
    fbeta: float
    brier: float
    calibration_error: float  # expected |observed rate - mean predicted| over equal-width bins
    reach: float  # share of visitors the decision targets
    # The model's calibration as a drift check reads it: the mean probability of the
    # visitors it targets (what it expects their precision to be), and its log-loss in
    # excess of the mean entropy of its probabilities (0 for calibrated probabilities).
    expected_precision: float
    log_loss_excess: float
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int

    def metrics(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


def evaluate(
    y_true: np.ndarray, probability: np.ndarray, threshold: float, beta: float
) -> Evaluation:
    # Imported here: what reads only SUMMARY_METRICS (`juice models`) needs no scikit-learn.
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        confusion_matrix,
        roc_auc_score,
    )

    y_true = np.asarray(y_true, dtype=bool)
    decision = decide(probability, threshold)
    tn, fp, fn, tp = confusion_matrix(y_true, decision, labels=[False, True]).ravel()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    clipped = np.clip(probability, 1e-15, 1 - 1e-15)
    log_loss = -np.where(y_true, np.log(clipped), np.log1p(-clipped))
    entropy = -(clipped * np.log(clipped) + (1 - clipped) * np.log1p(-clipped))
    return Evaluation(
        rows=len(y_true),
        purchase_rate=float(y_true.mean()),
        roc_auc=float(roc_auc_score(y_true, probability)),
        average_precision=float(average_precision_score(y_true, probability)),
        precision=float(precision),
        recall=float(recall),
        fbeta=float(fbeta(np.array(precision), np.array(recall), beta)),
        brier=float(brier_score_loss(y_true, probability)),
        calibration_error=calibration_error(y_true, probability),
        reach=float(decision.mean()),
        expected_precision=float(probability[decision].mean()) if decision.any() else 0.0,
        log_loss_excess=float((log_loss - entropy).mean()),
        true_positives=int(tp),
        false_positives=int(fp),
        true_negatives=int(tn),
        false_negatives=int(fn),
    )


def calibration_table(
    y_true: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, count) per non-empty equal-width bin."""
    which = np.minimum((probability * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        members = which == b
        if members.any():
            table.append(
                (
                    float(probability[members].mean()),
                    float(y_true[members].mean()),
                    int(members.sum()),
                )
            )
    return table


def calibration_error(y_true: np.ndarray, probability: np.ndarray) -> float:
    table = calibration_table(np.asarray(y_true, dtype=float), probability)
    total = sum(count for _, _, count in table)
    return float(sum(count * abs(pred - seen) for pred, seen, count in table) / total)


@dataclass(frozen=True)
class TargetingRow:
    """What targeting everyone at or above `threshold` would have given on test data."""

    threshold: float
    precision: float  # share of the targeted who bought
    recall: float  # share of the buyers who were targeted
    reach: float  # share of visitors targeted


TARGETING_STEPS = 100  # one row per 1% of reach (fewer where scores tie)


def targeting_table(
    y_true: np.ndarray, probability: np.ndarray, served_threshold: float
) -> list[TargetingRow]:
    """Precision, recall and reach at thresholds that reach 1%, 2%, ... 100% of the
    visitors, plus the served threshold, ascending; every row targets someone."""
    y_true = np.asarray(y_true, dtype=bool)
    reach_steps = np.arange(1, TARGETING_STEPS + 1) / TARGETING_STEPS
    thresholds = np.quantile(probability, 1 - reach_steps, method="inverted_cdf")
    candidates = np.unique(np.append(thresholds, served_threshold))
    buyers = max(int(y_true.sum()), 1)
    rows = []
    for threshold in candidates:
        targeted = decide(probability, threshold)
        count = int(targeted.sum())
        if not count:
            continue
        hits = int((y_true & targeted).sum())
        rows.append(
            TargetingRow(
                threshold=float(threshold),
                precision=hits / count,
                recall=hits / buyers,
                reach=count / len(probability),
            )
        )
    return rows


@dataclass(frozen=True)
class FlavourEffect:
    """What watching a flavour's ad does, on average over real visitors."""

    flavour: str
    seconds: float  # the typical watch: median seconds among those who watched
    uplift: float  # mean change in purchase probability, watched vs not watched


def flavour_effects(predict_proba, matrix: np.ndarray) -> list[FlavourEffect]:
    """Average marginal effect of each ad, model-agnostic: score every visit with the ad
    watched for its typical time and with it unwatched, and average the difference."""
    effects = []
    for j, flavour in enumerate(FLAVOURS):
        column = FIRST_FLAVOUR_COLUMN + j
        watched = matrix[:, column][matrix[:, column] > 0]
        seconds = float(np.median(watched)) if len(watched) else 30.0
        on, off = matrix.copy(), matrix.copy()
        on[:, column], off[:, column] = seconds, 0.0
        uplift = predict_proba(on)[:, 1] - predict_proba(off)[:, 1]
        effects.append(FlavourEffect(flavour, seconds, float(uplift.mean())))
    return sorted(effects, key=lambda effect: effect.uplift, reverse=True)


def write_plots(
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    chosen: Evaluation,
    effects: list[FlavourEffect],
    folder: Path,
) -> list[Path]:
    """ROC, precision-recall (marking `chosen`, the evaluation at `threshold`), calibration
    and per-flavour effect plots as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    folder.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(figure, name: str) -> None:
        path = folder / name
        figure.tight_layout()
        figure.savefig(path, dpi=90)
        plt.close(figure)
        paths.append(path)

    figure, axes = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y_true, probability, ax=axes, plot_chance_level=True)
    save(figure, "roc.png")

    figure, axes = plt.subplots(figsize=(5, 5))
    PrecisionRecallDisplay.from_predictions(y_true, probability, ax=axes, plot_chance_level=True)
    axes.plot(chosen.recall, chosen.precision, "o", label=f"threshold {threshold:.2f}")
    axes.legend()
    save(figure, "precision_recall.png")

    figure, axes = plt.subplots(figsize=(5, 5))
    table = calibration_table(np.asarray(y_true, dtype=float), probability)
    axes.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    axes.plot([t[0] for t in table], [t[1] for t in table], "o-", label="model")
    axes.set(xlabel="mean predicted probability", ylabel="observed purchase rate")
    axes.legend()
    save(figure, "calibration.png")

    figure, axes = plt.subplots(figsize=(6, 7))
    ordered = effects[::-1]
    axes.barh([e.flavour for e in ordered], [e.uplift for e in ordered])
    axes.set(xlabel="change in purchase probability (typical watch vs none)")
    save(figure, "flavour_effects.png")
    return paths
