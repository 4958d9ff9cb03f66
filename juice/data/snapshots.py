"""Datasets kept by content: the exact data each model saw, safe from later builds."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from juice.data.files import file_hash, link_or_copy
from juice.errors import JuiceError
from juice.schema import SOURCE
from juice.settings import Settings

NO_DATASET = "no published dataset: run `juice build-dataset` first"


@dataclass(frozen=True)
class DatasetSnapshot:
    """A published dataset frozen under its content hash."""

    data_hash: str  # sha256 over each file's name and content
    folder: Path
    sources: list[str]  # the exports whose rows it holds

    def read(self) -> pl.DataFrame:
        return pl.read_parquet(sorted(self.folder.glob("*.parquet")))


def snapshot_dataset(settings: Settings) -> DatasetSnapshot:
    """Freezes the published dataset under its content hash (hard links where the disk
    allows, else copies) and returns it; the same content is kept once."""
    files = sorted(settings.workspace.dataset.glob("*.parquet"))
    if not files:
        raise JuiceError(NO_DATASET)
    return _freeze(settings, files)


def _parent(settings: Settings) -> Path:
    settings.workspace.snapshots.mkdir(parents=True, exist_ok=True)
    return settings.workspace.snapshots


def _freeze(settings: Settings, files: list[Path]) -> DatasetSnapshot:
    """`files` kept under their content hash (once per content)."""
    files = sorted(files)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file_hash(file).encode() + b"\n")
    data_hash = digest.hexdigest()
    folder = settings.workspace.snapshots / data_hash
    if not folder.is_dir():
        staging = folder.with_name(f".{data_hash}.{uuid.uuid4().hex}")
        staging.mkdir(parents=True)
        for file in files:
            link_or_copy(file, staging / file.name)
        try:
            staging.rename(folder)
        except OSError:  # a concurrent run kept the same content first
            shutil.rmtree(staging, ignore_errors=True)
    return _snapshot(folder)


def snapshot_visits(settings: Settings, visits: pl.DataFrame) -> DatasetSnapshot:
    """Freezes typed visits (with their `source`) as a snapshot, one file per export as a
    published dataset holds them: a reference that is not a built dataset (the newest
    visits of a regime)."""
    with tempfile.TemporaryDirectory(dir=_parent(settings)) as tmp:
        files = []
        for (source,), rows in visits.partition_by(
            SOURCE, as_dict=True, maintain_order=True
        ).items():
            files.append(Path(tmp) / f"{Path(str(source)).stem}.parquet")
            rows.write_parquet(files[-1])
        return _freeze(settings, files)


def find_snapshot(settings: Settings, data_hash: str) -> DatasetSnapshot:
    """The snapshot with this content hash (the data a model was trained on)."""
    folder = settings.workspace.snapshots / data_hash
    if not folder.is_dir():
        raise JuiceError(f"the dataset {data_hash[:12]} is not kept in {folder.parent}")
    return _snapshot(folder)


def _snapshot(folder: Path) -> DatasetSnapshot:
    files = sorted(folder.glob("*.parquet"))
    return DatasetSnapshot(folder.name, folder, [f"{file.stem}.csv" for file in files])
