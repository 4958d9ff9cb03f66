"""Training benchmark: model quality against the simulator's truth, the grid's training
time, and `juice predict` throughput.

    uv run python benchmarks/training.py [--rows 100000 1000000] [--score-rows 1000000]

Quality: the model is trained on `rows` simulated visits with the project's params.yaml
and judged on a fresh simulated sample whose true purchase probabilities are known: the
Bayes-optimal ROC AUC is the AUC of those true probabilities. F0.3 of the model at its
chosen threshold is compared with F0.3 of the true probabilities at their best threshold
(chosen on the evaluation sample itself, so that ceiling is slightly optimistic).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from juice.data.parsing import parse_export
from juice.data.simulator import TRUE_PROBABILITY, simulate, write_export
from juice.model.evaluation import evaluate
from juice.model.linear import linear_scorer
from juice.model.matrix import to_matrix
from juice.model.scoring import score_export
from juice.model.thresholds import select_threshold
from juice.params import load_params
from juice.workspace import PROJECT_PARAMS

FRESH_ROWS = 200_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    params = load_params(PROJECT_PARAMS).train
    from juice.model.training import param_grid, train_model

    grid = param_grid(params.search.grid)
    combos = sum(np.prod([len(values) for values in sub.values()]) for sub in grid)
    print(f"grid: {combos} pipelines x {params.search.cv_folds} folds, beta {params.beta}")

    fresh = simulate(FRESH_ROWS, seed=10_001)
    y = fresh["purchased"].to_numpy()
    truth = fresh[TRUE_PROBABILITY].to_numpy()
    bayes_auc = roc_auc_score(y, truth)
    bayes_f = select_threshold(y, truth, params.beta)
    model = None
    for rows in args.rows:
        started = time.perf_counter()
        trained = train_model(simulate(rows, seed=rows), params)
        seconds = time.perf_counter() - started
        ours = trained.pipeline.predict_proba(to_matrix(fresh))[:, 1]
        on_fresh = evaluate(y, ours, trained.threshold.threshold, params.beta)
        print(
            f"\n{rows:,} training rows: whole training {seconds:.1f} s (grid search {trained.search_seconds:.1f} s)"
        )
        print(f"  best pipeline: {trained.best_params}")
        print(
            f"  ROC AUC on {FRESH_ROWS:,} fresh rows: model {on_fresh.roc_auc:.4f}, "
            f"Bayes-optimal {bayes_auc:.4f}, gap {bayes_auc - on_fresh.roc_auc:.4f}"
        )
        print(
            f"  F{params.beta:g}: model {on_fresh.fbeta:.4f} at threshold {trained.threshold.threshold:.3f} "
            f"(precision {on_fresh.precision:.3f}, recall {on_fresh.recall:.3f}); true probabilities {bayes_f.fbeta:.4f} "
            f"at {bayes_f.threshold:.3f} (precision {bayes_f.precision:.3f}, recall {bayes_f.recall:.3f})"
        )
        model = model or trained

    with tempfile.TemporaryDirectory() as tmp:
        source = write_export(simulate(args.score_rows, seed=77), Path(tmp) / "score.csv")
        started = time.perf_counter()
        parse_export(
            source, Path(tmp) / "a.parquet", Path(tmp) / "q.csv", max_seconds=3600, label="optional"
        )
        parse_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = score_export(
            source,
            Path(tmp) / "out.csv",
            linear_scorer(model.pipeline),
            threshold=model.threshold.threshold,
            model_version="bench",
            max_seconds=3600,
        )
        seconds = time.perf_counter() - started
    rate = result.rows_scored / seconds
    print(
        f"\njuice predict on {args.score_rows:,} rows: {seconds:.2f} s = {rate:,.0f} rows/s "
        f"(parse alone {parse_seconds:.2f} s: scoring and writing add {seconds - parse_seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
