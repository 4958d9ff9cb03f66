"""Replicas benchmark: the service past one replica, behind HAProxy, as containers.

A real MLflow tracking server (artifacts proxied, as in compose.yaml) holds the champion;
API replicas are containers of `localhost/poljuice:latest` on the host's network, one
worker each, the token required, each following the champion through the server; HAProxy
(leastconn, /readyz health checks, retries with redispatch) is in front. Measured:

1. Throughput: wrk posting one visit per request (with the token) to one replica directly,
   to one replica through HAProxy, and to 2 (or --replicas) through HAProxy; requests per
   second, p50 and p99, the median of interleaved rounds (as benchmarks/serving.py does),
   and the efficiency of N replicas against N times one. Every process shares this
   machine's cores, so past the cores there is nothing to gain: the figures say how
   close the replicas come to the cores, not how they scale on more machines.
2. A rolling update under load: threads post for the whole update, every non-2xx answer
   and connection error counted; each replica in turn is drained through HAProxy's
   runtime API, stopped once it serves no request (SIGTERM), replaced by a container of
   a new image (`localhost/poljuice:bench-next-<pid>`, another tag of the same build) on
   another port, and put back once ready. Requests, failures, the update's duration,
   each replica's swap time.
3. A new champion: v2 (trained at the start) is promoted in the registry under load; the
   time until every replica answers /model with version 2, and failures meanwhile.

    uv run python benchmarks/replicas.py [--seconds 10] [--rounds 3] [--connections 32]
        [--replicas 2|3] [--image localhost/poljuice:latest]

Needs podman with the images built (`make images`), haproxy and wrk (`make bench`
installs both with apt-get when missing); run as root (podman rootful, --network=host).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.haproxy import Backend, Runtime, haproxy_config, haproxy_server
from benchmarks.wrk import wrk
from deployments.experiments import create_experiments
from deployments.wait import wait
from juice.adapters.processes import free_port, tracking_server
from juice.data.simulator import simulate
from juice.params import load_params
from juice.registry.promotion import promote
from juice.registry.seed import seed_champion
from juice.registry.store import Registry
from juice.serving.api import EXAMPLE_VISIT
from juice.settings import Settings
from juice.workspace import PROJECT_PARAMS

IMAGE = "localhost/poljuice:latest"
# Two tags of the same build, made at the start: the release the replicas start on and the
# "new" one of the rolling update (a rebuild of IMAGE meanwhile changes neither).
CURRENT, NEXT = "localhost/poljuice:bench-{pid}", "localhost/poljuice:bench-next-{pid}"
PAUSE_SECONDS = 3  # between wrk runs, so that one run's leftovers do not slow the next
LOAD_THREADS = 8  # the load during updates: steady traffic, not a saturation test
READY_SECONDS = 180  # a replica's start on 2 busy cores
STOP_SECONDS = 30  # podman stop: SIGTERM, then SIGKILL after this


@dataclass(frozen=True)
class Replica:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Swap:
    """One replica replaced, in seconds: until it served no request, until it stopped,
    until its replacement was ready, until HAProxy sent the replacement traffic."""

    drain: float
    stop: float
    start: float
    back: float

    @property
    def total(self) -> float:
        return self.drain + self.stop + self.start + self.back


@dataclass(frozen=True)
class LoadResult:
    sent: int
    failed: int
    seconds: float
    failures: dict[str, int]  # "HTTP 503": 2, "ReadError": 1, ...


class Fleet:
    """API replicas as containers on the host's network, following the registry of
    `tracking_uri`; every container started is removed when the block ends."""

    def __init__(self, tracking_uri: str, token: str) -> None:
        self.tracking_uri, self.token = tracking_uri, token
        self.names: list[str] = []

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_: object) -> None:
        if self.names:
            subprocess.run(["podman", "rm", "-f", "-t", "5", *self.names],
                           capture_output=True, check=False)  # fmt: skip

    def start(self, image: str) -> Replica:
        """A replica started from `image` on a free port (not ready yet), as compose.yaml
        runs the `api` service, bound to loopback."""
        replica = Replica(f"poljuice-bench-{os.getpid()}-{len(self.names) + 1}", free_port())
        env = {
            "JUICE_HOME": "/home/bentoml/bento/src",
            "JUICE_MLFLOW_TRACKING_URI": self.tracking_uri,
            "JUICE_API_HOST": "127.0.0.1",
            "JUICE_API_TOKEN": self.token,
            "JUICE_API_WORKERS": "1",
            "JUICE_RELOAD_SECONDS": "2",
            "BENTOML_DO_NOT_TRACK": "true",
        }
        self.names.append(replica.name)
        subprocess.run(
            ["podman", "run", "-d", "--name", replica.name, "--network=host",
             *(f"--env={key}={value}" for key, value in env.items()), image,
             "bentoml", "serve", "service:PolJuice", "--working-dir", "/home/bentoml/bento/src",
             "--host", "127.0.0.1", "--port", str(replica.port)],
            capture_output=True, check=True,
        )  # fmt: skip
        return replica

    def wait_ready(self, replica: Replica) -> None:
        if wait([f"{replica.url}/readyz"], READY_SECONDS):
            logs = subprocess.run(["podman", "logs", "--tail", "20", replica.name],
                                  capture_output=True, text=True, check=False)  # fmt: skip
            raise RuntimeError(f"{replica.name} not ready:\n{logs.stdout}{logs.stderr}")

    def image(self, replica: Replica) -> str:
        """The image the replica's container was started from, as podman names it."""
        inspect = ["podman", "inspect", "--format", "{{.ImageName}}", replica.name]
        return subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip()

    def stop(self, replica: Replica) -> None:
        """SIGTERM: the service finishes what it serves, then exits."""
        subprocess.run(["podman", "stop", "-t", str(STOP_SECONDS), replica.name],
                       capture_output=True, check=True)  # fmt: skip


class Load:
    """Threads posting `body` to `url` for as long as the block lasts, each answer counted."""

    def __init__(self, url: str, body: str, headers: dict[str, str]) -> None:
        self.url, self.body, self.headers = url, body, headers
        self._stop = threading.Event()
        self._counts = [Counter[str]() for _ in range(LOAD_THREADS)]
        self._threads = [threading.Thread(target=self._post, args=(c,)) for c in self._counts]
        self.result: LoadResult | None = None

    def __enter__(self) -> Load:
        self._started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        counts = sum(self._counts, Counter[str]())
        ok = counts.pop("ok", 0)
        sent = ok + sum(counts.values())
        seconds = time.perf_counter() - self._started
        self.result = LoadResult(sent, sent - ok, seconds, dict(counts))

    def _post(self, counts: Counter[str]) -> None:
        headers = {"Content-Type": "application/json", **self.headers}
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post(self.url, content=self.body, headers=headers)
                    counts["ok" if answer.is_success else f"HTTP {answer.status_code}"] += 1
                except httpx.HTTPError as error:
                    counts[type(error).__name__] += 1


def seed_two_versions(settings: Settings) -> Registry:
    """v1 the champion, v2 trained and registered, ready to be promoted."""
    create_experiments(settings.mlflow_tracking_uri or "")
    params = load_params(PROJECT_PARAMS).train
    seed_champion(simulate(20_000, seed=5), params, settings, "bench")
    seed_champion(simulate(20_000, seed=7), params, settings, "bench-next")
    registry = Registry(settings)
    promote(registry, "1", "benchmark: replicas start on v1", actor="bench")
    return registry


@contextmanager
def tagged(image: str, tag: str) -> Iterator[str]:
    """`image` under another tag for the block (a rebuild of `image` meanwhile leaves it)."""
    subprocess.run(["podman", "tag", image, tag], check=True)
    try:
        yield tag
    finally:
        # the one name: `podman untag IMAGE` alone would drop every name of the image
        subprocess.run(["podman", "untag", tag, tag], capture_output=True, check=False)


def wait_all_up(runtime: Runtime, backends: list[Backend]) -> None:
    for backend in backends:
        for server in runtime.servers(backend.name):
            runtime.wait_for(backend.name, server, lambda s: s.status == "UP")


def measure_throughput(
    urls: dict[str, str], body: str, headers: dict[str, str], args: argparse.Namespace, folder: Path
) -> dict[str, list[dict[str, float]]]:
    """wrk against each URL, the runs interleaved round by round."""
    for url in urls.values():  # warm-up
        wrk(url, body, 2, args.connections, folder, headers)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
    for _ in range(args.rounds):
        for name, url in urls.items():
            time.sleep(PAUSE_SECONDS)
            results[name].append(wrk(url, body, args.seconds, args.connections, folder, headers))
    return results


def replace(
    runtime: Runtime, backend: str, server: str, old: Replica, fleet: Fleet, image: str
) -> tuple[Replica, Swap]:
    """Drains `server`, stops its replica once it serves nothing, starts a replacement of
    `image`, points `server` at it once ready and waits until HAProxy sends it traffic."""
    times = [time.perf_counter()]
    runtime.set_state(backend, server, "drain")
    runtime.wait_for(backend, server, lambda s: s.sessions == 0)
    times.append(time.perf_counter())
    fleet.stop(old)
    times.append(time.perf_counter())
    new = fleet.start(image)
    fleet.wait_ready(new)
    times.append(time.perf_counter())
    runtime.set_port(backend, server, new.port)
    runtime.set_state(backend, server, "ready")
    runtime.wait_for(backend, server, lambda s: s.status == "UP")
    times.append(time.perf_counter())
    return new, Swap(*(after - before for before, after in itertools.pairwise(times)))


def rolling_update(
    runtime: Runtime, backend: Backend, replicas: list[Replica], fleet: Fleet, image: str
) -> tuple[list[Replica], list[Swap]]:
    """Every replica of `backend` replaced by one of `image`, one at a time. (The other
    backends still point at the replicas replaced: only this one carries traffic after.)"""
    swapped = [replace(runtime, backend.name, f"s{n}", old, fleet, image)
               for n, old in enumerate(replicas, 1)]  # fmt: skip
    return [new for new, _ in swapped], [swap for _, swap in swapped]


def serving_versions(replicas: list[Replica], headers: dict[str, str]) -> list[str]:
    return [httpx.get(f"{r.url}/model", headers=headers, timeout=10).json()["version"]
            for r in replicas]  # fmt: skip


def champion_rollout(registry: Registry, replicas: list[Replica], headers: dict[str, str]) -> float:
    """Promotes v2; seconds until every replica serves it."""
    started = time.perf_counter()
    promote(registry, "2", "benchmark: a new champion", actor="bench")
    while set(serving_versions(replicas, headers)) != {"2"}:
        time.sleep(0.1)
    return time.perf_counter() - started


def print_throughput(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print(
        f"\nwrk, {args.connections} connections, {args.seconds} s per run, median of "
        f"{args.rounds} interleaved rounds; 1 worker per replica; 1 visit per request"
    )
    for name in results:
        rates = ", ".join(f"{r['rps']:,.0f}" for r in results[name])
        print(
            f"  {name:26s} {median(name, 'rps'):7,.0f} req/s  p50 {median(name, 'p50_ms'):6.1f} ms"
            f"  p99 {median(name, 'p99_ms'):6.1f} ms"
            f"  failed {sum(r['failed'] for r in results[name]):.0f}  (rounds: {rates})"
        )
    one = median("1 replica, HAProxy", "rps")
    direct = median("1 replica, direct", "rps")
    print(f"  one replica through HAProxy: {one / direct:.0%} of its rate served directly")
    for n in range(2, args.replicas + 1):
        efficiency = median(f"{n} replicas, HAProxy", "rps") / (n * one)
        print(f"  efficiency of {n} replicas: {efficiency:.0%} of {n} x one (through HAProxy)")
    print(
        f"  {os.cpu_count()} cores run the replicas, HAProxy and wrk alike: the ceiling is the "
        "cores, so this says how near the replicas get to them, not how they scale across machines"
    )


def print_load(what: str, load: LoadResult) -> None:
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(load.failures.items())) or "none"
    print(
        f"  {what}: {load.sent:,} requests in {load.seconds:.1f} s "
        f"({load.sent / load.seconds:,.0f}/s, {LOAD_THREADS} threads), failed {load.failed} ({kinds})"
    )


def print_update(swaps: list[Swap], load: LoadResult, images: set[str]) -> None:
    print(f"\nRolling update of {len(swaps)} replicas, one at a time, under load")
    print_load("load through HAProxy from before the first drain to after the last swap", load)
    print(f"  update: {sum(s.total for s in swaps):.1f} s; replicas now run {', '.join(images)}")
    for n, swap in enumerate(swaps, 1):
        print(f"  replica {n}: {swap.total:5.1f} s  (drain {swap.drain:.1f}, stop {swap.stop:.1f}, "
              f"replacement ready {swap.start:.1f}, back in HAProxy {swap.back:.1f})")  # fmt: skip


def print_rollout(seconds: float, load: LoadResult) -> None:
    print("\nNew champion: v2 promoted in the registry, under load")
    print(f"  every replica answers /model with version 2 after {seconds:.1f} s "
          "(each asks the registry every 2 s: JUICE_RELOAD_SECONDS)")  # fmt: skip
    print_load("load through HAProxy during the rollout", load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=2, choices=(2, 3))
    parser.add_argument("--image", default=IMAGE, help="the service's image (bentoml containerize)")
    args = parser.parse_args()
    for tool in ("podman", "haproxy", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed: `make bench` installs haproxy and wrk")
    if subprocess.run(["podman", "image", "exists", args.image], check=False).returncode:
        sys.exit(f"no image {args.image}: `make images` builds it")

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    token = secrets.token_urlsafe(32)
    headers = {"Authorization": f"Bearer {token}"}
    body = json.dumps({"visits": [EXAMPLE_VISIT]})
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        current, next_image = (stack.enter_context(tagged(args.image, tag.format(pid=os.getpid())))
                               for tag in (CURRENT, NEXT))  # fmt: skip
        (folder / "mlflow").mkdir()
        server, tracking_uri = tracking_server(folder / "mlflow")
        stack.enter_context(server)
        flows = Settings(home=folder / "flows", mlflow_tracking_uri=tracking_uri)
        registry = seed_two_versions(flows)
        fleet = stack.enter_context(Fleet(tracking_uri, token))

        replicas = [fleet.start(current) for _ in range(args.replicas)]
        for replica in replicas:
            fleet.wait_ready(replica)
        backends = [Backend(f"r{n}", free_port(), tuple(r.port for r in replicas[:n]))
                    for n in range(1, args.replicas + 1)]  # fmt: skip
        config = folder / "haproxy.cfg"
        config.write_text(haproxy_config(backends, folder / "haproxy.sock"))
        stack.enter_context(haproxy_server(config, backends[0].port, folder / "haproxy.log"))
        runtime = Runtime(folder / "haproxy.sock")
        wait_all_up(runtime, backends)

        urls = {"1 replica, direct": f"{replicas[0].url}/predict"} | {
            f"{n} replica{'s' if n > 1 else ''}, HAProxy": f"http://127.0.0.1:{b.port}/predict"
            for n, b in enumerate(backends, 1)
        }
        print_throughput(measure_throughput(urls, body, headers, args, folder), args)

        every = backends[-1]  # the backend of every replica: the one the updates go through
        every_url = f"http://127.0.0.1:{every.port}/predict"
        with Load(every_url, body, headers) as load:
            time.sleep(2)  # traffic under way before the first drain, and after the last swap
            replicas, swaps = rolling_update(runtime, every, replicas, fleet, next_image)
            time.sleep(2)
        print_update(swaps, load.result, {fleet.image(r) for r in replicas})

        with Load(every_url, body, headers) as load:
            time.sleep(2)
            rollout_seconds = champion_rollout(registry, replicas, headers)
            time.sleep(2)
        print_rollout(rollout_seconds, load.result)


if __name__ == "__main__":
    main()
