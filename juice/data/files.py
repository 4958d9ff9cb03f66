"""File helpers of the data layer: content hashes and cheap copies."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def file_hash(path: Path) -> str:
    """The sha256 of the file's content."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the disk allows (files kept this way are never written in place),
    else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
