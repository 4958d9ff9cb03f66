"""Staging areas: one private folder per build or ingest, removed when it ends or, after
it was killed, by a later one once no live process holds it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from juice.locks import release_and_remove, try_acquire
from juice.workspace import Workspace


@contextmanager
def staging_area(workspace: Workspace) -> Iterator[Path]:
    """A fresh staging folder, locked while in use (the lock dies with its process, even
    killed); first removes the folders whose processes died without cleaning up."""
    workspace.staging.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(workspace.staging)
    folder = workspace.staging / uuid.uuid4().hex
    with FileLock(_lock(folder)):
        folder.mkdir()  # after the lock: a folder without a held lock is abandoned
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    _lock(folder).unlink(missing_ok=True)


def _remove_abandoned(root: Path) -> None:
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        lock = FileLock(_lock(folder))
        if not try_acquire(lock):
            continue  # a live process holds it
        shutil.rmtree(folder, ignore_errors=True)
        release_and_remove(lock)


def _lock(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.lock")
