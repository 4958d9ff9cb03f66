"""A client that sends its request body a byte at a time: what a body deadline is for."""

from __future__ import annotations

import socket
import time


def trickle(
    url: str, path: str, headers: dict[str, str], start: bytes, deadline: float
) -> tuple[bytes, float]:
    """POSTs `start` then one byte at a time (of a body announced much longer) until the
    server answers or 4 x `deadline` seconds pass; the answer and the seconds it took."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        client.sendall(f"{head}Content-Length: 100000\r\n\r\n".encode() + start)
        started = time.monotonic()
        client.settimeout(0.3)
        answer = b""
        while not answer and time.monotonic() - started < 4 * deadline:
            try:
                client.sendall(b" ")
                answer = client.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # the server answered and closed while we sent
                break
        return answer, time.monotonic() - started
