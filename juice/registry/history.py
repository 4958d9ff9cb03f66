"""The promotion history: every change of champion, one JSON line in the workspace's log."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Promotion:
    """One change of champion: when, which version, what it replaced, who and why."""

    at: str
    model: str
    champion: str
    previous: str | None
    by: str
    reason: str


def record_promotion(log: Path, promotion: Promotion) -> None:
    """Appends `promotion` to the log (one line, written whole), unless it is the last
    line already: a promotion finished after a crash is logged once."""
    line = (json.dumps(asdict(promotion)) + "\n").encode()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a+b") as stream:
        stream.seek(max(0, stream.seek(0, os.SEEK_END) - len(line) - 1))
        if not (b"\n" + stream.read()).endswith(b"\n" + line):
            stream.write(line)
