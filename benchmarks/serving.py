"""Serving benchmark: wrk against our /predict (1 visit per request), a BentoML echo
endpoint doing no model work (the ceiling), `mlflow models serve` of the same registered
model, and our /predict with 1,000 visits per request. Same machine, same champion.

All servers run at once (each idle while another is measured), and the runs are
interleaved round by round, so drift of the machine hits every figure alike; each
figure is the median over the rounds. Each run starts after a pause, so that the work
a run leaves behind (the prediction log writing 1,000-visit requests) is not charged
to the next one.

    uv run python benchmarks/serving.py [--seconds 10] [--connections 32] [--rounds 5]

Needs wrk (`make bench` installs it with apt-get when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from pydantic import TypeAdapter

from benchmarks.wrk import wrk
from juice.adapters.processes import bento_server, free_port, http_server
from juice.data.simulator import simulate
from juice.model.matrix import MODEL_COLUMNS
from juice.params import load_params
from juice.registry.seed import seed_champion
from juice.serving.api import EXAMPLE_VISIT, request_visits, visit_model, visits_matrix
from juice.settings import Settings
from juice.workspace import PROJECT_PARAMS, Workspace

BIN = Path(sys.executable).parent
PAUSE_SECONDS = 5


def bodies() -> dict[str, str]:
    """Request bodies: one visit; 1,000 different visits as clients send them, with every
    key or with only the ads watched; the same visit in MLflow's dataframe_split form."""
    visits = simulate(1000, seed=6)
    full, watched = request_visits(visits, watched_only=False), request_visits(visits)
    visit = TypeAdapter(visit_model()).validate_python(EXAMPLE_VISIT)
    row = visits_matrix([visit])[0].tolist()  # the same visit as the model matrix
    return {
        "one": json.dumps({"visits": [EXAMPLE_VISIT]}),
        "full": json.dumps({"visits": full}),
        "watched": json.dumps({"visits": watched}),
        "mlflow": json.dumps({"dataframe_split": {"columns": list(MODEL_COLUMNS), "data": [row]}}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench` installs it")

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        home = Path(tmp)
        env = {
            "MLFLOW_TRACKING_URI": f"sqlite:///{Workspace(home).mlflow_db}",
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        }
        os.environ.update({"JUICE_HOME": str(home)})
        params = load_params(PROJECT_PARAMS).train
        card = seed_champion(simulate(20_000, seed=5), params, Settings(), "bench")

        urls = {}
        for name, target in (
            ("ours", "service:PolJuice"),
            ("echo", "benchmarks.echo_service:Echo"),
        ):
            server, url = bento_server(target, home, **env)
            servers.enter_context(server)
            urls[name] = f"{url}/predict"
        port = free_port()
        command = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{card.name}/{card.version}",
                   "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "2"]  # fmt: skip
        servers.enter_context(http_server(command, f"http://127.0.0.1:{port}/ping", env))
        urls["mlflow"] = f"http://127.0.0.1:{port}/invocations"

        body = bodies()
        runs = {  # name: (url, body)
            "ours": (urls["ours"], body["one"]),
            "echo": (urls["echo"], body["one"]),
            "mlflow": (urls["mlflow"], body["mlflow"]),
            "ours-1000-full": (urls["ours"], body["full"]),
            "ours-1000-watched": (urls["ours"], body["watched"]),
        }
        for url, payload in runs.values():  # warm-up
            wrk(url, payload, 2, args.connections, home)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, (url, payload) in runs.items():
                time.sleep(PAUSE_SECONDS)
                results[name].append(wrk(url, payload, args.seconds, args.connections, home))

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"\nwrk, {args.connections} connections, {args.seconds} s per run, median of "
        f"{args.rounds} interleaved rounds; 2 workers per server; same champion"
    )
    for name, label in (
        ("ours", "our /predict, 1 visit/request"),
        ("echo", "BentoML echo, no model (ceiling)"),
        ("mlflow", "mlflow models serve, 1 row/request"),
        ("ours-1000-full", "our /predict, 1000 visits, every key"),
        ("ours-1000-watched", "our /predict, 1000 visits, ads watched"),
    ):
        rates = ", ".join(f"{r['rps']:,.0f}" for r in results[name])
        print(
            f"  {label:40s} {median(name, 'rps'):7,.0f} req/s  p99 {median(name, 'p99_ms'):6.1f} ms"
            f"  failed {sum(r['failed'] for r in results[name]):.0f}  (rounds: {rates})"
        )
    ours = median("ours", "rps")
    print(f"  single visit vs echo ceiling: {ours / median('echo', 'rps'):.0%}")
    print(f"  single visit vs mlflow models serve: {ours / median('mlflow', 'rps'):.1f}x")
    for form in ("full", "watched"):
        rate = median(f"ours-1000-{form}", "rps") * 1000
        print(f"  1000-visit requests ({form}): {rate:,.0f} visits/s")


if __name__ == "__main__":
    main()
