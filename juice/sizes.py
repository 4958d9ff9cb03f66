"""Sizes in words for people: the limits the service, the app and ingestion state."""

from __future__ import annotations


def mebibytes(size: int) -> str:
    """A size in MiB, for people, with the exact bytes: `512 MiB (536,870,912 bytes)`."""
    return f"{size / 2**20:.3g} MiB ({size:,} bytes)"
