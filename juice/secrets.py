"""Secrets the stack's processes share, made once in the workspace and read by its own
user only: what a web page of another origin cannot know, so cannot send."""

from __future__ import annotations

import os
import secrets
from base64 import b64encode
from pathlib import Path

MONITORING_USER = "juice"  # who Prometheus and the checks are to Alertmanager and the Pushgateway


def shared_secret(path: Path) -> str:
    """The secret kept at `path`, made (random, mode 0600) the first time it is asked for."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(32))
        try:
            os.link(partial, path)  # the first process to make it wins; the others read it
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip()


def basic_authorization(user: str, password: str) -> dict[str, str]:
    """The header that authenticates `user` with HTTP basic authentication."""
    return {"Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode()}
