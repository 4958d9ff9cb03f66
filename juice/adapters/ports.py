"""Ports of this machine: which listen, which are free to take."""

from __future__ import annotations

import socket

from juice.errors import JuiceError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    """Something accepts connections on this machine's `port` (a millisecond to ask)."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def require_free(host: str, port: int, what: str) -> None:
    """Says in our words that `what` cannot listen on host:port, before its server tries.
    As servers do, the probe reuses the address: connections a last run closed wait a
    minute in TIME_WAIT, and they do not stop a new listener."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise JuiceError(f"{what} cannot listen on {host}:{port}: {error.strerror}") from error
