"""The `juice` command run as a user runs it, and what its errors must look like."""

from __future__ import annotations

import os
import subprocess
import sys

JUICE = [sys.executable, "-m", "juice.cli"]


def juice(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JUICE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("juice: error:"), done.stderr
    for word in words:
        assert word in lines[0]
