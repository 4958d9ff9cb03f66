"""Small builders of test data: raw export lines and simulated exports."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from juice.data.simulator import simulate, write_export
from juice.schema import RAW_COLUMNS


def export(path: Path, rows: int = 1000, seed: int = 0, scenario: str = "stable") -> Path:
    """A simulated export on disk."""
    return write_export(simulate(rows, seed, scenario), path)


def append_lines(path: Path, *lines: str | bytes) -> None:
    with path.open("ab") as stream:
        for line in lines:
            stream.write(line if isinstance(line, bytes) else line.encode())
            stream.write(b"\n")


def row(**overrides: str) -> str:
    """One raw export line: a valid visit unless fields are overridden."""
    values = {"sex": "M", "age": "30", "purchased": "N"} | overrides
    return ",".join(values.get(name, "0") for name in RAW_COLUMNS)


def read_quarantine(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, schema_overrides={"raw": pl.String})


def small_train_params(**grid):
    """Training parameters with a grid small enough for tests."""
    from juice.params import GateParams, SearchParams, TrainParams

    grid = {"watch": ["log+watched", "watched"], "C": [1.0]} | grid
    return TrainParams(
        search=SearchParams(grid=[grid], cv_folds=2, n_jobs=1), gate=GateParams(bootstrap=50)
    )


def write_params(settings, **grid) -> None:
    """A workspace params.yaml with the small training grid; its concept check judges every
    labelled visit of a window (the tests' exports are a few thousand visits, their
    champions small: the newest 1,000 alone leave the verdict to chance)."""
    import yaml

    from juice.params import DriftParams, Params

    params = Params(train=small_train_params(**grid), drift_check=DriftParams(concept_visits=5000))
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.workspace.params_file.write_text(yaml.safe_dump(params.model_dump(mode="json")))


def land(settings, folder: Path, name: str, rows: int, seed: int, scenario: str = "stable") -> None:
    """A simulated export written to `folder`, then landed in the workspace."""
    source = export(folder / f"{name}.csv", rows=rows, seed=seed, scenario=scenario)
    from juice.data.ingest import SimulatorSource, ingest

    ingest([str(source)], settings.workspace, SimulatorSource(10, "stable", 0))


def served(trained, threshold: float | None = None, version: str = "1"):
    """A trained model ready to score, with its real card (its threshold overridden)."""
    from dataclasses import replace

    from juice.model.card import card_for
    from juice.model.served import ServedModel

    card = card_for(trained, name="test", version=version, run_id="", dataset_version=None)
    return ServedModel(trained.pipeline, replace(card, threshold=threshold or card.threshold))
