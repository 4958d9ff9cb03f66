"""ETL benchmark: parse + quarantine with polars against the same parse in pandas, and
the validation's share. Each measurement runs in a fresh process so its peak memory
(max RSS) is its own.

    uv run python benchmarks/etl.py [--rows 1000000 5000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DATA = Path(__file__).parent / ".data"
BAD_EVERY = 1000  # one broken line per thousand, of rotating kinds


def make_export(rows: int) -> Path:
    """A simulated export with some broken lines, cached between runs."""
    path = DATA / f"export-{rows}.csv"
    if path.exists():
        return path
    from juice.data.simulator import simulate, write_export

    DATA.mkdir(parents=True, exist_ok=True)
    chunk = 1_000_000
    broken = [
        b"",
        b"M,17" + b",0" * 23 + b",N",
        b"X,30" + b",0" * 23 + b",N",
        b"M,30,-1" + b",0" * 22 + b",Y",
    ]
    with path.open("wb") as out, tempfile.TemporaryDirectory() as tmp:
        for start in range(0, rows, chunk):
            part = write_export(simulate(min(chunk, rows - start), seed=start), Path(tmp) / "p.csv")
            for i, line in enumerate(part.read_bytes().splitlines(keepends=True)):
                out.write(line)
                if i % BAD_EVERY == BAD_EVERY - 1:
                    out.write(broken[(i // BAD_EVERY) % len(broken)] + b"\n")
    return path


def polars_parse(path: Path, out: Path) -> dict:
    from juice.data.parsing import parse_export

    result = parse_export(path, out / "accepted.parquet", out / "quarantine.csv", max_seconds=3600)
    return {"accepted": result.rows_accepted, "quarantined": result.rows_quarantined}


def pandas_parse(path: Path, out: Path) -> dict:
    """The same rules as juice.data.parsing, written the idiomatic vectorised pandas way."""
    import numpy as np
    import pandas as pd

    from juice.schema import AGE_MAX, AGE_MIN, FEATURES, FLAVOURS, RAW_COLUMNS

    lines = pd.read_csv(
        path,
        sep="\x1f",
        header=None,
        names=["raw"],
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=False,
        quoting=csv.QUOTE_NONE,
        encoding_errors="replace",
    )["raw"]
    lines.index = np.arange(1, len(lines) + 1)
    fields = lines.str.split(",", n=len(RAW_COLUMNS), expand=True)
    count = lines.str.count(",") + 1
    bad = pd.Series("", index=lines.index)
    empty = lines == ""
    garbled = lines.str.contains("\ufffd", regex=False)
    wrong = ~empty & ~garbled & (count != len(RAW_COLUMNS))
    shaped = ~(empty | garbled | wrong)
    bad[empty] += "empty line; "
    bad[garbled] += "not valid UTF-8 text; "
    bad[wrong] += "expected 26 fields; "
    typed = {}
    sex = fields[0]
    bad[shaped & ~sex.isin(["F", "M"])] += "sex: must be one of F/M; "
    for position, name in enumerate(FEATURES[1:], start=1):
        text = fields[position].fillna("")
        digits = text.str.fullmatch(r"[0-9]{1,9}")
        value = pd.to_numeric(text.where(digits), errors="coerce")
        broken = ~value.between(AGE_MIN, AGE_MAX) if name == "age" else ~(value <= 3600)
        bad[shaped & broken] += f"{name}: invalid; "
        typed[name] = value
    label = fields[len(FEATURES)]
    bad[shaped & ~label.isin(["Y", "N"])] += "purchased: must be one of Y/N; "
    ok = bad == ""
    accepted = pd.DataFrame(
        {"sex": sex[ok].astype("category"), "age": typed["age"][ok].astype("int16")}
    )
    for name in FLAVOURS:
        accepted[name] = typed[name][ok].astype("int32")
    accepted["purchased"] = label[ok] == "Y"
    accepted["line"] = lines.index[ok]
    accepted.to_parquet(out / "accepted.parquet")
    quarantine = pd.DataFrame(
        {"line": lines.index[~ok], "reason": bad[~ok].str.rstrip("; "), "raw": lines[~ok]}
    )
    quarantine.to_csv(out / "quarantine.csv", index=False)
    return {"accepted": int(ok.sum()), "quarantined": int((~ok).sum())}


def validate(path: Path, out: Path) -> dict:
    import polars as pl

    from juice.data.parsing import parse_export
    from juice.params import ValidationParams

    parsed = parse_export(path, out / "accepted.parquet", out / "quarantine.csv", max_seconds=3600)
    started = time.perf_counter()
    import great_expectations  # noqa: F401 - timed apart: the import is paid once per process

    imported = time.perf_counter()
    from juice.data.validation import validate_batch

    report = validate_batch(
        pl.read_parquet(parsed.accepted_path),
        name="bench",
        lines_read=parsed.rows_read,
        params=ValidationParams(),
        max_seconds=3600,
    )
    return {
        "import_seconds": imported - started,
        "success": report.success,
        "validate_seconds": time.perf_counter() - imported,
    }


STEPS = {"polars": polars_parse, "pandas": pandas_parse, "validate": validate}


def _anonymous_mb() -> float:
    """Resident memory that is not a mapped file (heap, arrays): RssAnon."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(step: str, rows: int) -> None:
    """Child process: one measurement, printed as JSON.

    Peak RSS counts the pages of the input that polars maps into memory (reclaimable
    file cache); peak anonymous memory, sampled every 10 ms, is what the work holds.
    """
    path = make_export(rows)
    peak_anonymous = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak_anonymous[0] = max(peak_anonymous[0], _anonymous_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = STEPS[step](path, Path(out))
        seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "anon_mb": peak_anonymous[0], **result}))


def measure(step: str, rows: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--one", step, "--rows", str(rows)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000])
    parser.add_argument(
        "--pandas-rows", type=int, default=5_000_000, help="pandas only up to this size"
    )
    parser.add_argument("--one", choices=STEPS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.rows[0])
        return
    memory = {}
    for rows in args.rows:
        lines = rows + rows // BAD_EVERY
        size_mb = make_export(rows).stat().st_size / 2**20
        runs = {"polars": measure("polars", rows)}
        if rows <= args.pandas_rows:
            runs["pandas"] = measure("pandas", rows)
            assert (runs["polars"]["accepted"], runs["polars"]["quarantined"]) == (
                runs["pandas"]["accepted"], runs["pandas"]["quarantined"]
            )  # fmt: skip
        fast = runs["polars"]
        memory[rows] = fast["anon_mb"]
        print(f"\n{rows:,} rows: {lines:,} lines, {fast['quarantined']:,} bad, {size_mb:.0f} MB")
        for name, run in runs.items():
            print(
                f"  parse+quarantine {name}: {run['seconds']:6.2f} s"
                f"  {lines / run['seconds']:>10,.0f} rows/s  peak RSS {run['peak_mb']:5.0f} MB"
                f" (anonymous {run['anon_mb']:5.0f} MB)"
            )
        if "pandas" in runs:
            print(f"  speed-up polars/pandas: {runs['pandas']['seconds'] / fast['seconds']:.1f}x")
        if rows <= 1_000_000:
            check = measure("validate", rows)
            seconds = check["validate_seconds"]
            print(
                f"  validation (GE, {'valid' if check['success'] else 'INVALID'}): {seconds:.2f} s"
                f" = {seconds / (seconds + fast['seconds']):.0%} of parse+validate;"
                f" GE import {check['import_seconds']:.1f} s once per process;"
                f" peak RSS {check['peak_mb']:.0f} MB"
            )
    smallest, largest = min(memory), max(memory)
    print(
        f"\nmemory as rows grow x{largest / smallest:g}: anonymous peak {memory[smallest]:.0f} MB"
        f" -> {memory[largest]:.0f} MB (x{memory[largest] / memory[smallest]:.2f})"
    )


if __name__ == "__main__":
    main()
