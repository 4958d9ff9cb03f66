"""Waits until addresses answer, then runs a command: readiness for compose.yaml under podman.

Podman 4.3 without systemd runs no healthchecks (compose's `service_healthy` is ignored); a
one-shot named in `depends_on` runs again at each start of a service that names it, and that
service, once crashed, is not restarted (podman leaves it "stopped"). So each container waits
for what it needs itself: a port, a URL, or a file another container makes. Standard library
only: it runs in images without the project too (mounted read-only, as in compose.yaml's
MLflow and monitoring services).

    python -m deployments.wait tcp://postgres:5432 http://mlflow:5000/health -- mlflow server ...
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

DEADLINE_SECONDS = float(os.environ.get("WAIT_SECONDS", "300"))
SCHEMES = ("tcp", "http", "https", "file")
USAGE = (
    "usage: python -m deployments.wait ADDRESS... [-- COMMAND...]; "
    "ADDRESS: tcp://HOST:PORT, http[s]://URL or file:///PATH"
)


def answers(address: str) -> bool:
    """True when `address` answers: a TCP connection (tcp://host:port), an HTTP status
    below 500 (http[s]://...), or a file that is there and not empty (file:///path)."""
    parts = urlsplit(address)
    try:
        if parts.scheme == "file":
            return os.path.getsize(parts.path) > 0
        if parts.scheme == "tcp":
            socket.create_connection((parts.hostname, parts.port), timeout=2).close()
            return True
        with urllib.request.urlopen(address, timeout=5):
            return True
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def wait(addresses: list[str], deadline_seconds: float = DEADLINE_SECONDS) -> list[str]:
    """Waits until every address answers; returns those that never did by the deadline."""
    give_up = time.monotonic() + deadline_seconds
    waiting = list(addresses)
    while waiting and time.monotonic() < give_up:
        waiting = [address for address in waiting if not answers(address)]
        if waiting:
            time.sleep(0.5)
    return waiting


def main(argv: list[str]) -> None:  # pragma: no cover - the command line of wait
    addresses, command = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    if any(urlsplit(address).scheme not in SCHEMES for address in addresses):
        sys.exit(USAGE)
    silent = wait(addresses)
    if silent:
        sys.exit(f"no answer after {DEADLINE_SECONDS:.0f} s from {', '.join(silent)}")
    if command:
        os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
