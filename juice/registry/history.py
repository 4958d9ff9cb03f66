"""The promotion history: every change of champion, one JSON line in the workspace's log."""

from __future__ import annotations

import json
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
    """Appends `promotion` to the log (one line, written whole)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as stream:
        stream.write(json.dumps(asdict(promotion)) + "\n")
