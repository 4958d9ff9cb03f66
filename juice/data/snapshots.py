"""Datasets kept by content: the exact data each model saw, safe from later builds."""

from __future__ import annotations

import hashlib
import json
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
MANIFEST = "manifest.json"  # each file's content hash, kept beside the files


@dataclass(frozen=True)
class DatasetSnapshot:
    """A published dataset frozen under its content hash."""

    data_hash: str  # sha256 over each file's name and content
    folder: Path
    sources: list[str]  # the exports whose rows it holds

    def read(self) -> pl.DataFrame:
        """Its rows; a clear error naming the file that cannot be read."""
        files = sorted(self.folder.glob("*.parquet"))
        try:
            return pl.read_parquet(files)
        except (pl.exceptions.PolarsError, OSError):
            for file in files:  # which one: the error polars gives names none
                try:
                    pl.read_parquet(file)
                except (pl.exceptions.PolarsError, OSError) as error:
                    raise JuiceError(f"{file}: cannot be read as Parquet ({error})") from error
            raise


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


def _hashes(files: list[Path]) -> dict[str, str]:
    """Each file's content hash, by name."""
    return {file.name: file_hash(file) for file in sorted(files)}


def _content_hash(hashes: dict[str, str]) -> str:
    """The snapshot's hash: sha256 over each file's name and content hash, in name order."""
    digest = hashlib.sha256()
    for name in sorted(hashes):
        digest.update(name.encode() + b"\0" + hashes[name].encode() + b"\n")
    return digest.hexdigest()


def _freeze(settings: Settings, files: list[Path]) -> DatasetSnapshot:
    """`files` kept under their content hash (once per content), with their manifest."""
    hashes = _hashes(files)
    data_hash = _content_hash(hashes)
    folder = settings.workspace.snapshots / data_hash
    if not folder.is_dir():
        staging = folder.with_name(f".{data_hash}.{uuid.uuid4().hex}")
        staging.mkdir(parents=True)
        for file in files:
            link_or_copy(file, staging / file.name)
        (staging / MANIFEST).write_text(json.dumps(hashes, indent=1))
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
    """The snapshot with this content hash (the data a model was trained on), checked
    against it: a file lost, added or changed is a clear error naming it."""
    folder = settings.workspace.snapshots / data_hash
    if not folder.is_dir():
        raise JuiceError(f"the dataset {data_hash[:12]} is not kept in {folder.parent}")
    found = _hashes(list(folder.glob("*.parquet")))
    if _content_hash(found) != data_hash:
        raise JuiceError(
            f"the dataset {data_hash[:12]} in {folder} is not the data it was kept as: "
            f"{_differences(folder, found)}; restore it (`dvc pull` where it was versioned) "
            "or judge against a new reference (`juice train` on a rebuilt dataset)"
        )
    return _snapshot(folder)


def _differences(folder: Path, found: dict[str, str]) -> str:
    """What differs from the manifest kept with the snapshot, in words."""
    try:
        kept: dict[str, str] = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return f"its files ({', '.join(found) or 'none'}) do not match its hash"
    return "; ".join(
        [f"{name} is missing" for name in kept if name not in found]
        + [f"{name} is not one of its files" for name in found if name not in kept]
        + [f"{name} was changed" for name in found if name in kept and kept[name] != found[name]]
    )


def _snapshot(folder: Path) -> DatasetSnapshot:
    files = sorted(folder.glob("*.parquet"))
    return DatasetSnapshot(folder.name, folder, [f"{file.stem}.csv" for file in files])
