"""wrk, the HTTP load generator, posting one JSON body: its figures as numbers."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path


def wrk(
    url: str,
    body: str,
    seconds: int,
    connections: int,
    folder: Path,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """Requests per second, p50 and p99 in ms, requests, and failures: non-2xx answers and
    socket errors (connect, read, write, timeout). `headers` go with every request (the
    token of a service behind authentication)."""
    script = folder / "post.lua"
    headers = {"Content-Type": "application/json", **(headers or {})}
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
        + "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    latency = {q: re.search(rf"{q}%\s+([\d.]+)(us|ms|s)", out) for q in ("50", "99")}
    ms = {q: float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)] if m else float("nan")
          for q, m in latency.items()}  # fmt: skip
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": ms["50"],
        "p99_ms": ms["99"],
        "failed": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, sockets.groups())) if sockets else 0),
    }
