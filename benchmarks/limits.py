"""Distance to the limit: the rows of issue 16's table, each as a ratio against a baseline
measured in the same run on the same machine.

| what | baseline |
| --- | --- |
| parse + quarantine of 1M rows: the typed rows as they stream (what `juice predict` scores), and written to Parquet (what a build stages) | `pl.read_csv` of the same file; and that read written to Parquet, the floor of the written row |
| Great Expectations on 1M rows, warm and cold (a fresh process) | the same raw read |
| `juice build-dataset`, marginal cost of 5M rows | raw read of the 5M file |
| `juice predict`, marginal cost of 5M rows | raw read of the 5M file |
| `juice models`, after a change of the store and unchanged | `juice --help` |
| `juice predict` of 1,000 rows, after a change of the store and unchanged | (2 s goal) |
| a build after one small new export, 5M rows landed before | the new export alone, and a full rebuild |

The tail of `/predict` under load is `benchmarks/overload.py`'s table; its throughput
against BentoML's own echo is `benchmarks/serving.py`'s.

    uv run python benchmarks/limits.py [--rows 5000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from benchmarks.etl import make_export
from juice.data.simulator import simulate, write_export
from juice.params import ValidationParams, load_params
from juice.registry.seed import seed_champion
from juice.settings import Settings
from juice.workspace import PROJECT_PARAMS

JUICE = Path(sys.executable).parent / "juice"
COLD_VALIDATION = """
import sys, time, polars as pl
started = time.perf_counter()
from juice.data.validation import validate_batch
from juice.params import ValidationParams
batch = pl.read_parquet(sys.argv[1])
validate_batch(batch, name="bench", lines_read=len(batch), params=ValidationParams(),
               max_seconds=3600)
print(time.perf_counter() - started)
"""


def best(seconds: Callable[[], float], times: int = 3) -> float:
    return min(seconds() for _ in range(times))


def interleaved(*actions: Callable[[], object], rounds: int = 7) -> list[float]:
    """Each action's best time, measured in turns (a busy moment of the machine slows
    them all alike, not one of them)."""
    times = [[timed(action) for action in actions] for _ in range(rounds)]
    return [min(column) for column in zip(*times, strict=True)]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def command(home: Path, *args: str) -> float:
    """Seconds of one `juice` command in the workspace `home` (it must succeed)."""
    env = {**os.environ, "JUICE_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING"}
    started = time.perf_counter()
    subprocess.run([str(JUICE), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def row(what: str, seconds: float, baseline: str, base: float, goal: str) -> None:
    ratio = f"{seconds / base:.2f}x" if base else "-"
    print(f"| {what} | {seconds:.2f} s | {baseline} {base:.2f} s | {ratio} | {goal} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000, help="the large export's rows")
    args = parser.parse_args()
    from juice.data.parsing import ExportBlocks, parse_export
    from juice.data.validation import validate_batch

    million, large = make_export(1_000_000), make_export(args.rows)
    big = f"{args.rows / 1e6:g}M"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        raw_large = best(lambda: timed(lambda: pl.read_csv(large)), 2)
        accepted = tmp_path / "accepted.parquet"
        quarantine = tmp_path / "q.csv"

        def stream() -> None:
            for _ in ExportBlocks(million, quarantine, max_seconds=3600):
                pass  # each block as `juice predict` takes it, before the next is parsed

        raw_1m, streamed, written, read_written = interleaved(
            lambda: pl.read_csv(million),
            stream,
            lambda: parse_export(million, accepted, quarantine, max_seconds=3600),
            lambda: pl.read_csv(million).write_parquet(
                tmp_path / "raw.parquet", statistics=False, compression_level=1
            ),
        )
        batch = pl.read_parquet(accepted)

        def validate() -> float:
            return timed(
                lambda: validate_batch(
                    batch, name="bench", lines_read=len(batch), params=ValidationParams(),
                    max_seconds=3600,
                )
            )  # fmt: skip

        validate()  # Great Expectations imported and set up once per process
        warm = best(validate)
        cold = float(
            subprocess.run(
                [sys.executable, "-c", COLD_VALIDATION, str(accepted)],
                check=True, capture_output=True, text=True,
            ).stdout.split()[-1]
        )  # fmt: skip

        # Builds, each after a first one in its workspace (Prefect sets up its database):
        # a small export alone, then beside the large one (nothing kept), then one more
        # small export on top of the kept results (incremental).
        small = [write_export(simulate(10_000, seed), tmp_path / f"small-{seed}.csv")
                 for seed in (1, 2)]  # fmt: skip
        alone, home = tmp_path / "alone", tmp_path / "builds"

        def build(workspace: Path, keep: bool = True) -> float:
            if not keep:
                shutil.rmtree(workspace / ".juice" / "exports", ignore_errors=True)
            return command(workspace, "build-dataset", "--no-version")

        command(alone, "ingest", str(small[1]))
        build(alone)
        build_alone = build(alone, keep=False)
        command(home, "ingest", str(small[0]))
        build(home)
        build_small = build(home, keep=False)
        command(home, "ingest", str(large))
        build_full = build(home, keep=False)
        command(home, "ingest", str(small[1]))
        build_incremental = build(home)

        # Commands on a workspace with a champion.
        served = tmp_path / "served"
        os.environ["JUICE_HOME"] = str(served)
        seed_champion(simulate(20_000, seed=5), load_params(PROJECT_PARAMS).train, Settings())
        thousand = write_export(simulate(1_000, seed=3), tmp_path / "thousand.csv")
        kept = served / ".juice" / "kept"
        shutil.rmtree(kept, ignore_errors=True)
        models_cold = command(served, "models")
        predict_cold = command(served, "predict", str(thousand), "--out", str(tmp_path / "o.csv"))
        models = best(lambda: command(served, "models"))
        predict_small = best(
            lambda: command(served, "predict", str(thousand), "--out", str(tmp_path / "o.csv"))
        )
        raw_beside, predict_large = interleaved(  # in turns: the large runs are the noisiest
            lambda: pl.read_csv(large),
            lambda: command(served, "predict", str(large), "--out", str(tmp_path / "o.csv")),
            rounds=2,
        )
        raw_large = min(raw_large, raw_beside)
        help_ = best(lambda: command(served, "--help"))

    print("| what | now | baseline | ratio | goal |")
    print("| --- | --- | --- | --- | --- |")
    row("parse + quarantine, 1M rows, typed rows streamed", streamed, "raw read", raw_1m,
        "within 2x")  # fmt: skip
    row("parse + quarantine, 1M rows, written to Parquet", written, "raw read", raw_1m, "-")
    row("raw read, written to Parquet (no parse)", read_written, "raw read", raw_1m, "-")
    row("Great Expectations, 1M rows, warm", warm, "raw read", raw_1m, "within 2x")
    row("Great Expectations, 1M rows, cold (import included)", cold, "raw read", raw_1m, "-")
    row(f"`juice build-dataset`, marginal cost of {big} rows", build_full - build_small,
        f"raw read of {big}", raw_large, "within 4x")  # fmt: skip
    row(f"`juice predict`, marginal cost of {big} rows", predict_large - predict_small,
        f"raw read of {big}", raw_large, "within 3x")  # fmt: skip
    row("`juice models`", models, "`--help`", help_, "within 5x")
    row("`juice models`, first after a change of the store", models_cold, "`--help`", help_, "-")
    row("`juice predict`, 1,000 rows", predict_small, "`--help`", help_, "under 2 s")
    row("`juice predict`, 1,000 rows, first after a change", predict_cold, "`--help`", help_, "-")
    history = build_incremental - build_alone
    print(
        f"\nbuild after one small new export, {big} rows landed before: {build_incremental:.2f} s;"
        f" the new export alone {build_alone:.2f} s; a full rebuild {build_full:.2f} s."
        f"\nthe history costs {history:.2f} s = {history / build_full:.0%} of a full rebuild"
        " (goal: under a quarter)"
    )


if __name__ == "__main__":
    main()
