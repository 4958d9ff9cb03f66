"""The `juice` command run as a user runs it, and what its errors must look like."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def start_juice(
    *args: str, patch: str = "", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`juice ARGS` started in the background, in a session of its own (so a test can kill
    it whole), after running `patch` (Python) in its process: how a test stops a command
    at a chosen point or widens a race."""
    code = f"{patch}\nimport sys\nfrom juice.cli import main\nsys.argv[1:] = {list(args)!r}\nmain()"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    """The output of a command started with `start_juice`, which must succeed."""
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


_HOLD_STAGING = """
import sys, time
from pathlib import Path
from juice.data.staging import staging_area
from juice.workspace import Workspace
with staging_area(Workspace(Path(sys.argv[1]))) as folder:
    print(folder, flush=True)
    time.sleep(300)
"""


def hold_staging_area(home: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process holding a staging area of the workspace at `home` (until killed), and
    that area."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD_STAGING, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())
