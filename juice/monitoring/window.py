"""The window a drift check judges: the exports landed since the champion's training data,
or a file given by hand."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from juice.data.dataset import landed_exports
from juice.data.parsing import ParseError, parse_export
from juice.schema import DATASET_SCHEMA
from juice.settings import Settings


@dataclass(frozen=True)
class Window:
    """Typed visits to judge, with where they came from."""

    visits: pl.DataFrame
    sources: list[str]
    rows_set_aside: int  # lines that broke the export format (not judged)
    unreadable: list[str]  # files that cannot be read at all, with the reason (not judged)


def new_exports(settings: Settings, known: list[str]) -> list[Path]:
    """Landed exports after the last of `known` (the reference: the champion's training
    data, or the regime it was confirmed on) and not among them, oldest landing first."""
    seen = set(known)
    exports = landed_exports(settings)
    last = max((n for n, path in enumerate(exports) if path.name in seen), default=-1)
    return [path for path in exports[last + 1 :] if path.name not in seen]


def read_window(paths: list[Path], max_seconds: int, most: int | None = None) -> Window:
    """The exports' valid rows, in order (the label optional: a file to judge may lack it);
    a file that cannot be read at all is left out with its reason, as builds reject it.
    With `most`, only the newest `most` visits: exports are read newest first until they
    hold as many, the oldest of them cut to its last rows."""
    frames: list[pl.DataFrame] = []
    sources: list[str] = []
    unreadable, aside, held = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for number, path in enumerate(reversed(paths)):
            if most is not None and held >= most:
                break
            try:
                parsed = parse_export(
                    path,
                    Path(tmp) / f"{number}.parquet",
                    Path(tmp) / f"{number}.csv",
                    max_seconds=max_seconds,
                    label="optional",
                    source=path.name,
                )
            except ParseError as error:
                unreadable.append(f"{path.name}: {error.reason}")
                continue
            visits = pl.read_parquet(parsed.accepted_path)
            if most is not None:
                visits = visits.tail(most - held)
            frames.insert(0, visits)
            sources.insert(0, path.name)
            aside += parsed.rows_quarantined
            held += visits.height
    visits = pl.concat(frames) if frames else pl.DataFrame(schema=DATASET_SCHEMA)
    return Window(visits, sources, aside, list(reversed(unreadable)))
