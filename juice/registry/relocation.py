"""A workspace moved or copied as a folder: its MLflow store still names the old place.

MLflow's SQLite store keeps absolute artifact locations. Repairing them is SQL on
MLflow's own schema (3.17's tables below), the one place the product reaches past
MLflow's API: there is no API to move an experiment's artifact location.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager, closing
from pathlib import Path

# Every place an MLflow SQLite store names an artifact location (MLflow 3.17's schema).
_LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def follow_move(
    database: Path, artifacts: Path, experiments: tuple[str, ...], locked: AbstractContextManager
) -> None:
    """Points every location of the store at `database` that names another folder than
    `artifacts` (this workspace's) at it, so the copy reads and writes only itself. The
    `experiments` tell where the store's locations are; `locked` is held while writing."""
    here = artifacts.resolve().as_uri()
    marks = ", ".join("?" for _ in experiments)
    query = f"SELECT DISTINCT artifact_location FROM experiments WHERE name IN ({marks})"
    try:
        with closing(sqlite3.connect(database)) as store:
            found = {row[0] for row in store.execute(query, experiments)}
    except sqlite3.DatabaseError:  # not an MLflow store (yet): MLflow says what it is
        return
    if found <= {here}:
        return
    with locked, closing(sqlite3.connect(database)) as store, store:
        for old in found - {here}:
            for table, column in _LOCATIONS:
                store.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                    f"WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                    (here, len(old) + 1, old, len(old) + 1, f"{old}/"),
                )
