"""Training benchmark: model quality against the simulator's truth, the grid's training
time, how one fit's time and memory grow with the rows, and `juice predict` throughput.

    uv run python benchmarks/training.py [--rows 100000 1000000] [--score-rows 1000000]
        [--growth-rows 1000000 5000000]

Quality: the model is trained on `rows` simulated visits with the project's params.yaml
and judged on a fresh simulated sample whose true purchase probabilities are known: the
Bayes-optimal ROC AUC is the AUC of those true probabilities. F0.3 of the model at its
chosen threshold is compared with F0.3 of the true probabilities at their best threshold
(chosen on the evaluation sample itself, so that ceiling is slightly optimistic).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from juice.data.parsing import parse_export
from juice.data.simulator import TRUE_PROBABILITY, simulate, write_export
from juice.model.card import card_for
from juice.model.evaluation import evaluate
from juice.model.matrix import to_matrix
from juice.model.scoring import score_export
from juice.model.served import ServedModel
from juice.model.thresholds import select_threshold
from juice.params import load_params
from juice.workspace import PROJECT_PARAMS

FRESH_ROWS = 200_000
# Pipeline shapes for the growth figures: the narrowest, the usual winner, the widest.
SHAPES = [("watched", "linear"), ("log+watched", "linear"), ("seconds+watched", "decades")]


def fit_cost(rows: int, watch: str, age: str) -> dict[str, float]:
    """One fit of one pipeline shape (C=1, l2, standard scaling) on `rows` visits' model
    matrix, in this process: seconds, and peak memory the fit allocated (numpy reports
    to tracemalloc) beyond its input."""
    from juice.model.training import pipeline

    visits = simulate(rows, seed=rows)
    matrix, labels = to_matrix(visits), visits["purchased"].to_numpy()
    del visits
    model = pipeline().set_params(features__watch=watch, features__age=age)
    tracemalloc.start()
    started = time.perf_counter()
    model.fit(matrix, labels)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": seconds, "peak_mb": peak / 2**20, "input_mb": matrix.nbytes / 2**20}


def growth(rows: list[int]) -> None:
    """Each shape's one fit at each size, in a fresh process, and how it grows."""
    print(f"\none fit per pipeline shape (C=1, l2, standard scaling), rows {rows}")
    print("| shape | " + " | ".join(f"{n:,} rows" for n in rows) + " | growth |")
    print("| --- | " + " | ".join("---" for _ in rows) + " | --- |")
    for watch, age in SHAPES:
        costs = []
        for n in rows:
            done = subprocess.run(
                [sys.executable, __file__, "--fit", watch, age, "--rows", str(n)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            costs.append(json.loads(done.stdout.splitlines()[-1]))
        cells = [f"{c['seconds']:.1f} s, {c['peak_mb']:,.0f} MB" for c in costs]
        ratio = rows[-1] / rows[0]
        grows = (f"x{costs[-1]['seconds'] / costs[0]['seconds']:.1f} time, "
                 f"x{costs[-1]['peak_mb'] / costs[0]['peak_mb']:.1f} memory for x{ratio:g} rows")  # fmt: skip
        print(f"| {watch}, age {age} | " + " | ".join(cells) + f" | {grows} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    parser.add_argument("--growth-rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--fit", nargs=2, metavar=("WATCH", "AGE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit:
        print(json.dumps(fit_cost(args.rows[0], *args.fit)))
        return
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
            ServedModel(
                model.pipeline,
                card_for(model, name="bench", version="bench", run_id="", dataset_version=None),
            ),
            max_seconds=3600,
        )
        seconds = time.perf_counter() - started
    rate = result.rows_scored / seconds
    print(
        f"\njuice predict on {args.score_rows:,} rows: {seconds:.2f} s = {rate:,.0f} rows/s "
        f"(parse alone {parse_seconds:.2f} s: scoring and writing add {seconds - parse_seconds:.2f} s)"
    )
    growth(args.growth_rows)


if __name__ == "__main__":
    main()
