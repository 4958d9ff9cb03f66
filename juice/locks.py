"""Workspace locks (file locks: a killed process's lock dies with it), taken without waiting."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout


def try_acquire(lock: FileLock) -> bool:
    """Takes `lock` if no other process holds it, without waiting; whether it did."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    return True


def release_and_remove(lock: FileLock) -> None:
    """Releases a lock that guarded one thing now gone, and removes its file."""
    lock.release()
    Path(lock.lock_file).unlink(missing_ok=True)
