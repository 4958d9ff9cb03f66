"""The promotion gate: does a challenger do at least as well as the model it would replace?

Both are scored on the same test rows, new to both: the split keeps a row in the same
part in every training (`training.split_dataset`), so the champion never trained on the
challenger's test rows. The difference in the gate metric is bootstrapped over those
rows, pairing the two models on each resample, so that noise alone neither promotes
nor blocks a model:

- against the champion, the challenger passes unless it is worse by more than
  `margin` with `confidence` (its lower confidence bound on the difference >= -margin);
  when it must improve (the drift loop: a promotion that changes nothing is not one),
  it passes only if better with `confidence` (lower bound > 0);
- with no champion yet, the challenger must beat the purchase-rate prior (a constant
  score) with `confidence` (lower bound > 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from juice.params import GateParams

PRIOR = "purchase-rate prior"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    metric: str
    challenger: float
    incumbent: float
    incumbent_name: str
    lower_bound: float  # of challenger - incumbent, at the gate's confidence


def judge(
    y_true: np.ndarray,
    challenger: np.ndarray,
    incumbent: np.ndarray | None,
    params: GateParams,
    incumbent_name: str = PRIOR,
    *,
    improve: bool = False,
) -> GateDecision:
    """Decides whether the challenger's scores earn promotion over the incumbent's (with
    `improve`, only if they are better)."""
    y_true = np.asarray(y_true, dtype=bool)
    against_prior = incumbent is None
    if incumbent is None:
        incumbent = np.full(len(y_true), y_true.mean())
        incumbent_name = PRIOR
    from sklearn import metrics  # here: opening the registry needs no scikit-learn

    score = getattr(metrics, f"{params.metric}_score")
    rng = np.random.default_rng(params.seed)
    differences = []
    for _ in range(params.bootstrap):
        rows = rng.integers(0, len(y_true), len(y_true))
        if y_true[rows].all() or not y_true[rows].any():
            continue
        differences.append(
            score(y_true[rows], challenger[rows]) - score(y_true[rows], incumbent[rows])
        )
    lower = float(np.quantile(differences, 1 - params.confidence))
    ours, theirs = float(score(y_true, challenger)), float(score(y_true, incumbent))
    strict = against_prior or improve
    needed = 0.0 if strict else -params.margin
    promote = lower > needed if strict else lower >= needed
    verdict = "beats" if promote else "does not beat"
    rule = (
        f"lower bound of the difference {lower:+.4f} "
        f"{'>' if strict else '>='} {needed:+.4f} at {params.confidence:.0%}"
    )
    return GateDecision(
        promote=promote,
        reason=f"{verdict} {incumbent_name}: {params.metric} {ours:.4f} vs {theirs:.4f}; {rule}"
        + ("" if promote else " is not met"),
        metric=params.metric,
        challenger=ours,
        incumbent=theirs,
        incumbent_name=incumbent_name,
        lower_bound=lower,
    )
