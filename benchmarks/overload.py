"""Overload benchmark: the service at 200 connections, and a worker's memory during a
large upload.

1. wrk against /predict with 1 visit and with 2,000 visits per request, each at 16,
   64 and 200 connections: requests per second, p50 and p99 (the tail as a multiple of
   the median, against the 16-connection run of the same body), and every failure wrk
   saw (non-2xx answers, socket errors, timeouts).
2. A valid export of about 175 MB, then a file of one 100 MB line, posted to
   /predict_csv: each worker's resident memory sampled every 50 ms, its peak growth over
   idle, and that growth as a share of the upload (the old in-memory path: about 11x
   for the export, 50x for the line).

    uv run python benchmarks/overload.py [--seconds 10] [--upload-mb 175]

Needs wrk (`make bench` installs it with apt-get when missing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from benchmarks.wrk import wrk
from juice.adapters.processes import bento_server
from juice.data.simulator import simulate, write_export
from juice.params import load_params
from juice.registry.seed import seed_champion
from juice.serving.api import request_visits
from juice.settings import Settings
from juice.workspace import PROJECT_PARAMS

BIN = Path(sys.executable).parent


def big_export(path: Path, megabytes: int) -> int:
    """A valid export of about `megabytes` MB (one simulated block repeated); its rows."""
    block = write_export(simulate(50_000, seed=9), path.with_suffix(".block")).read_bytes()
    rows, size = 0, 0
    with path.open("wb") as out:
        while size < megabytes * 10**6:
            out.write(block)
            size += len(block)
            rows += 50_000
    return rows


def upload_memory(url: str, server_pid: int, export: Path) -> dict[str, float]:
    """Posts the export while sampling each worker's RSS; the peak growth over idle."""
    workers = [p for p in psutil.Process(server_pid).children(recursive=True)
               if "python" in p.name().lower()]  # fmt: skip
    idle = {p.pid: p.memory_info().rss for p in workers}
    peak = dict(idle)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for process in workers:
                with contextlib.suppress(psutil.NoSuchProcess):
                    peak[process.pid] = max(peak[process.pid], process.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    with export.open("rb") as stream:
        files = {"file": ("big.csv", stream, "text/csv")}
        answer = httpx.post(f"{url}/predict_csv", files=files, timeout=600)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    growth = max(peak[pid] - idle[pid] for pid in idle)
    return {
        "status": answer.status_code,
        "rows_scored": int(answer.headers.get("x-rows-scored", 0)),
        "seconds": seconds,
        "idle_mb": max(idle.values()) / 1e6,
        "peak_mb": max(peak.values()) / 1e6,
        "growth_mb": growth / 1e6,
        "growth_share": growth / export.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--upload-mb", type=int, default=175)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["JUICE_HOME"] = str(home)
        params = load_params(PROJECT_PARAMS).train
        seed_champion(simulate(20_000, seed=5), params, Settings(), "bench")
        env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        server, url = bento_server("service:PolJuice", home, **env)
        with server:
            bodies = {
                "1 visit": json.dumps({"visits": request_visits(simulate(1, seed=1))}),
                "2,000 visits": json.dumps({"visits": request_visits(simulate(2000, seed=2))}),
            }
            print("| body | connections | req/s | p50 | p99 | p99/p50 | requests | failed |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for name, body in bodies.items():
                for connections in (16, 64, 200):
                    time.sleep(3)
                    run = wrk(f"{url}/predict", body, args.seconds, connections, home)
                    print(f"| {name} | {connections} | {run['rps']:,.0f} | {run['p50_ms']:,.1f} ms"
                          f" | {run['p99_ms']:,.0f} ms | {run['p99_ms'] / run['p50_ms']:.1f}x"
                          f" | {run['requests']:,} | {run['failed']} |")  # fmt: skip
            export = home / "big.csv"
            rows = big_export(export, args.upload_mb)
            one_line = home / "one-line.csv"
            one_line.write_bytes(b"x" * 100 * 10**6 + b"\n")
            uploads = {
                f"{export.stat().st_size / 1e6:,.0f} MB export ({rows:,} visits)": export,
                "100 MB single line": one_line,
            }
            print("\n| upload | HTTP | rows scored | seconds | worker idle | peak | growth |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for name, path in uploads.items():
                m = upload_memory(url, server.process.pid, path)
                print(f"| {name} | {m['status']} | {m['rows_scored']:,} | {m['seconds']:.1f} | "
                      f"{m['idle_mb']:,.0f} MB | {m['peak_mb']:,.0f} MB | "
                      f"{m['growth_mb']:,.0f} MB ({m['growth_share']:.2f}x the upload) |")  # fmt: skip


if __name__ == "__main__":
    main()
