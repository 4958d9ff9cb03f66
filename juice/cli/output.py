"""What every command shares: its settings, its one line of failure, its output in text or JSON."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from juice.errors import JuiceError
from juice.settings import Settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


def fail(reason: str) -> None:
    """Ends the command with one line on stderr and exit code 1."""
    print(f"juice: error: {' '.join(reason.split())}", file=sys.stderr)
    sys.exit(1)


def emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    """The command's result: `payload` as one JSON object with --json, else `lines`."""
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        print("\n".join(lines))


def load_settings() -> Settings:
    """The validated settings, the workspace writable, the frameworks pointed at it."""
    current = Settings()
    _require_writable(current.home)
    from flows.runtime import prepare_environment

    prepare_environment(current)
    return current


def _require_writable(home: Path) -> None:
    """Every step writes into the workspace: say so now if it cannot, before a framework
    (Prefect waits minutes for a server that cannot start) or a step fails half-way."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as error:
        raise JuiceError(f"the workspace is read-only: {home} ({error.strerror})") from error
