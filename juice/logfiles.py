"""Logs that stay bounded: past a size, a log becomes its one previous file (`<name>.1`)."""

from __future__ import annotations

from pathlib import Path

LOG_BYTES = 50 << 20  # a log is rotated past this; with its previous file, 100 MiB at most


def rotate_past(path: Path, size: int, max_bytes: int = LOG_BYTES) -> bool:
    """Moves `path` (now `size` bytes) to `<name>.1`, replacing the one before, once it
    is past `max_bytes`; whether it did."""
    if size <= max_bytes:
        return False
    path.replace(path.with_name(f"{path.name}.1"))
    return True
