"""Serving benchmark: wrk against, one at a time on this machine and the same champion,
our /predict (1 visit per request), a BentoML echo endpoint doing no model work (the
ceiling), `mlflow models serve` of the same registered model, and 1,000-visit requests.

    uv run python benchmarks/serving.py [--seconds 10] [--connections 32]

Needs wrk (`make bench` installs it with apt-get when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from juice.features import MODEL_COLUMNS
from juice.gate import judge
from juice.params import load_params
from juice.registry import Registry
from juice.settings import PROJECT_ROOT, Settings
from juice.simulator import simulate
from juice.training import train_model

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], ready: str) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(ready, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"{command[0]} did not become ready")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def wrk(url: str, body: str, seconds: int, connections: int, folder: Path) -> dict[str, float]:
    script = folder / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p99_ms": float(p99.group(1)) * scale,
        "errors": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {
            "JUICE_HOME": str(home),
            "BENTOML_HOME": str(home / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        }
        os.environ.update({"JUICE_HOME": str(home)})
        params = load_params(PROJECT_ROOT / "params.yaml").train
        trained = train_model(simulate(20_000, seed=5), params)
        registry = Registry(Settings())
        card = registry.log_training(trained, {"dataset_version": "bench"}, {})
        registry.promote(
            card.version,
            judge(trained.split.y_test, trained.test_probability, None, params.gate).reason,
        )

        visit = {"sex": "F", "age": 41, "blackcurrant": 76, "lychee": 9, "raspberry": 298}
        one = json.dumps({"visits": [visit]})
        many = json.dumps({"visits": [visit] * 1000})
        row = [1.0 if c == "female" else float(visit.get(c, 0)) for c in MODEL_COLUMNS]
        mlflow_body = json.dumps(
            {"dataframe_split": {"columns": list(MODEL_COLUMNS), "data": [row]}}
        )
        results: dict[str, dict[str, float]] = {}

        for name, target in (
            ("ours", "service:PolJuice"),
            ("echo", "benchmarks.echo_service:Echo"),
        ):
            port = free_port()
            server = start(
                [str(BIN / "bentoml"), "serve", target, "--host", "127.0.0.1", "--port", str(port)],
                env,
                f"http://127.0.0.1:{port}/readyz",
            )
            try:
                wrk(f"http://127.0.0.1:{port}/predict", one, 2, args.connections, home)  # warm-up
                results[name] = wrk(
                    f"http://127.0.0.1:{port}/predict", one, args.seconds, args.connections, home
                )
                if name == "ours":
                    results["ours-1000"] = wrk(
                        f"http://127.0.0.1:{port}/predict", many, args.seconds, 4, home
                    )
            finally:
                stop(server)

        port = free_port()
        server = start(
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{card.name}/{card.version}",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            {**env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
            f"http://127.0.0.1:{port}/ping",
        )
        try:
            url = f"http://127.0.0.1:{port}/invocations"
            wrk(url, mlflow_body, 2, args.connections, home)
            results["mlflow"] = wrk(url, mlflow_body, args.seconds, args.connections, home)
        finally:
            stop(server)

    print(
        f"\nwrk, {args.connections} connections, {args.seconds} s each, 2 workers per server, same champion"
    )
    for name, label in (
        ("ours", "our /predict, 1 visit/request"),
        ("echo", "BentoML echo, no model (ceiling)"),
        ("mlflow", "mlflow models serve, 1 row/request"),
        ("ours-1000", "our /predict, 1000 visits/request"),
    ):
        r = results[name]
        print(
            f"  {label:38s} {r['rps']:9,.0f} req/s  p99 {r['p99_ms']:7.1f} ms  errors {r['errors']:.0f}"
        )
    ours = results["ours"]["rps"]
    print(f"  single visit vs echo ceiling: {ours / results['echo']['rps']:.0%}")
    print(f"  single visit vs mlflow models serve: {ours / results['mlflow']['rps']:.1f}x")
    print(f"  1000-visit requests: {results['ours-1000']['rps'] * 1000:,.0f} visits/s")


if __name__ == "__main__":
    main()
