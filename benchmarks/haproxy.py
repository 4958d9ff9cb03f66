"""HAProxy in front of API replicas: its configuration, its process, its runtime API."""

from __future__ import annotations

import csv
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mirakuru import HTTPExecutor

from juice.adapters.processes import http_server

MONITOR_URI = "/haproxy-alive"  # answered by HAProxy itself: the process is up
CHECK_SECONDS = 0.5  # a replica's /readyz is asked this often


@dataclass(frozen=True)
class Backend:
    """Replicas (their loopback ports, servers s1, s2, ...) behind a frontend's port."""

    name: str
    port: int
    servers: tuple[int, ...]


@dataclass(frozen=True)
class ServerState:
    """A server as `show stat` reports it: UP, DOWN, DRAIN, MAINT (or in transition, such as
    "DOWN 1/2"), and the sessions it is serving now."""

    status: str
    sessions: int


def haproxy_config(backends: list[Backend], stats_socket: Path, balance: str = "leastconn") -> str:
    """Each backend behind its own frontend; replicas checked on /readyz, so one loading or
    gone gets no traffic; a request whose connection fails is retried on another replica."""
    lines = [
        "global",
        f"    stats socket {stats_socket} mode 600 level admin",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    retries 3",
        "    option redispatch 1",
        # empty-response: a kept-alive connection the replica closed as the request left
        "    retry-on conn-failure empty-response",
        f"    balance {balance}",
        f"    default-server check inter {CHECK_SECONDS * 1000:.0f}ms fall 2 rise 2",
    ]
    for backend in backends:
        lines += [
            f"frontend {backend.name}-in",
            f"    bind 127.0.0.1:{backend.port}",
            f"    monitor-uri {MONITOR_URI}",
            f"    default_backend {backend.name}",
            f"backend {backend.name}",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
            *(f"    server s{n} 127.0.0.1:{port}" for n, port in enumerate(backend.servers, 1)),
        ]
    return "\n".join(lines) + "\n"


def haproxy_server(config: Path, port: int, log: Path) -> HTTPExecutor:
    """`haproxy -db` (in the foreground) on `config`, started once the frontend on `port`
    answers; stopped by its process group."""
    command = ["haproxy", "-db", "-f", str(config)]
    return http_server(command, f"http://127.0.0.1:{port}{MONITOR_URI}", cwd=config.parent, log=log)


class Runtime:
    """HAProxy's runtime API on its stats socket: one command per connection."""

    def __init__(self, stats_socket: Path) -> None:
        self.stats_socket = stats_socket

    def send(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(str(self.stats_socket))
            connection.sendall(f"{command}\n".encode())
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        return answer.decode()

    def servers(self, backend: str) -> dict[str, ServerState]:
        """The backend's servers by name, as `show stat` reports them."""
        text = self.send("show stat").lstrip("# ")
        return {
            row["svname"]: ServerState(row["status"], int(row["scur"] or 0))
            for row in csv.DictReader(text.splitlines())
            if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def set_state(self, backend: str, server: str, state: str) -> None:
        """`ready`, `drain` (no new requests; those under way finish) or `maint`."""
        self._require_silent(f"set server {backend}/{server} state {state}")

    def set_port(self, backend: str, server: str, port: int) -> None:
        """Points the server at another loopback port (its health checks follow)."""
        answer = self.send(f"set server {backend}/{server} addr 127.0.0.1 port {port}")
        if "changed" not in answer and "no need to change" not in answer:
            raise RuntimeError(f"HAProxy refused the new port of {backend}/{server}: {answer}")

    def wait_for(
        self,
        backend: str,
        server: str,
        done: Callable[[ServerState], bool],
        seconds: float = 120,
    ) -> ServerState:
        """Polls `show stat` until `done(state)` holds; the state, or an error after `seconds`."""
        deadline = time.monotonic() + seconds
        while not done(state := self.servers(backend)[server]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{backend}/{server} still {state} after {seconds:.0f} s")
            time.sleep(0.05)
        return state

    def _require_silent(self, command: str) -> None:
        """Runs a command that answers nothing when it worked."""
        if answer := self.send(command).strip():
            raise RuntimeError(f"HAProxy refused `{command}`: {answer}")
