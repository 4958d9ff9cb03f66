"""The pages' charts as matplotlib figures (no pyplot: figures are built in worker threads)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, PercentFormatter

from ui.targeting import TargetingRow

UP, DOWN, NEUTRAL, MARK, INK = "#2e7d32", "#c62828", "#b0bec5", "#ef6c00", "#37474f"
FACTORS = (1 / 100, 1 / 30, 1 / 10, 1 / 4, 1 / 2, 1, 2, 4, 10, 30, 100)  # odds ticks


def _axes(title: str, height: float, width: float = 7.5) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), layout="constrained", dpi=100)
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=11, color=INK)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def contributions_figure(bars: Sequence[tuple[str, float]]) -> Figure:
    """Horizontal bars of log-odds contributions, largest absolute first (at the top), each
    labelled with what it does to the odds (`×1.35`)."""
    figure, axes = _axes("What moved this visitor's odds of buying", 0.42 * len(bars) + 1.3)
    if not bars:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "Nothing: this visitor is the reference visitor.",
                  ha="center", va="center", transform=axes.transAxes)  # fmt: skip
        return figure
    labels, values = zip(*bars[::-1], strict=True)
    axes.barh(labels, values, color=[UP if value > 0 else DOWN for value in values])
    axes.axvline(0, color=INK, linewidth=0.8)
    for y, value in enumerate(values):
        right = value > 0
        axes.annotate(f"×{math.exp(value):.2f}", (value, y), xytext=(4 if right else -4, 0),
                      textcoords="offset points", va="center", ha="left" if right else "right",
                      fontsize=9)  # fmt: skip
    # At least x0.5..x2 wide, so that a small effect looks small.
    reach = max(max(abs(value) for value in values) * 1.3, math.log(2))
    axes.set_xlim(-reach, reach)
    # Log-odds on the axis, read as odds factors at round values.
    axes.xaxis.set_major_locator(FixedLocator([math.log(f) for f in FACTORS]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"×{math.exp(x):.3g}"))
    axes.set_xlabel("Odds of buying, compared with the reference visitor")
    return figure


def probability_histogram(probabilities: np.ndarray, threshold: float | None) -> Figure:
    """How the scored rows' probabilities spread; the rows at or above the served threshold
    (the ones targeted) in colour."""
    figure, axes = _axes("Probability of buying of the scored rows", 3.0, width=9)
    edges = np.linspace(0, 1, 41)
    counts, _ = np.histogram(probabilities, bins=edges)
    targeted = [threshold is not None and left >= threshold for left in edges[:-1]]
    axes.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="white",
             color=[UP if hit else NEUTRAL for hit in targeted])  # fmt: skip
    if threshold is not None:
        axes.axvline(threshold, color=MARK, linestyle="--", linewidth=1.5,
                     label=f"served threshold {threshold:.1%}")  # fmt: skip
        axes.legend(frameon=False, loc="upper right")
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlim(0, 1)
    axes.set_xlabel("Probability of buying")
    axes.set_ylabel("Rows")
    return figure


def targeting_figure(rows: Sequence[TargetingRow], served: float, chosen: float | None) -> Figure:
    """Precision, recall and reach against the threshold; served and chosen thresholds marked."""
    figure, axes = _axes("What each threshold gives (model's test visitors)", 3.6, width=10)
    thresholds = [row.threshold for row in rows]
    precision = [np.nan if row.precision is None else row.precision for row in rows]
    axes.plot(thresholds, precision, color=UP, label="precision: share of the reached who buy")
    axes.plot(thresholds, [row.recall for row in rows], color="#1565c0",
              label="recall: share of the buyers reached")  # fmt: skip
    axes.plot(thresholds, [row.reach for row in rows], color="#6a1b9a", linestyle=":",
              label="share of visitors reached")  # fmt: skip
    axes.axvline(served, color=MARK, linestyle="--", linewidth=1.5,
                 label=f"served threshold {served:.1%}")  # fmt: skip
    if chosen is not None:
        axes.axvline(chosen, color=INK, linewidth=1, label=f"your choice {chosen:.1%}")
    axes.set_ylim(0, 1.02)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("Threshold: probability of buying from which a visitor is targeted")
    axes.legend(frameon=False, fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return figure


def record_figure(exports: Sequence[dict[str, Any]], promised: float | None) -> Figure:
    """The precision the champion realised on each labelled export, beside what it
    expected of the visitors it targeted there and what it promised on its test data."""
    figure, axes = _axes("Precision on each labelled export since it serves", 3.2)
    ticks = list(range(len(exports)))
    realised = [100 * (e.get("realised_precision") or 0) for e in exports]
    expected = [100 * (e.get("expected_precision") or 0) for e in exports]
    axes.plot(ticks, realised, "o-", color=UP, label="realised")
    axes.plot(ticks, expected, "s--", color=INK, label="expected (its probabilities)")
    if promised is not None:
        axes.axhline(100 * promised, color=DOWN, linewidth=1, label="promised (test data)")
    axes.set_ylim(0, 100)
    axes.set_ylabel("Precision (%)")
    axes.set_xlabel("Labelled exports, oldest first")
    axes.legend(loc="lower left", fontsize=8)
    return figure


def effects_figure(effects: Sequence[dict[str, Any]]) -> Figure:
    """Each ad's average effect on the probability of buying, in percentage points."""
    ranked = sorted(effects, key=lambda effect: effect["uplift"])
    figure, axes = _axes("Which ads move purchases", 0.27 * len(ranked) + 1.3)
    labels = [f"{e['flavour'].capitalize()} ({e['seconds']:.0f} s)" for e in ranked]
    points = [e["uplift"] * 100 for e in ranked]
    axes.barh(labels, points, color=[UP if p > 0 else DOWN for p in points])
    axes.axvline(0, color=INK, linewidth=0.8)
    axes.tick_params(axis="y", labelsize=9)
    axes.set_xlabel("Change in the probability of buying (percentage points)")
    return figure
