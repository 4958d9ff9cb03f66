"""The fast typed path and the line-by-line reasoned path agree: same rows, same quarantine.

The reasoned path is the parser as it was before the fast path; `fast=False` forces it.
"""

from __future__ import annotations

import random

import polars as pl
import pytest
from factories import export, row
from test_parsing import BAD_LINES

from juice.data.parsing import parse_export
from juice.schema import RAW_COLUMNS

# Lines polars' integer reader is lenient with, or that sit on a path's edges.
EDGES = [
    row(age="+30"), row(age=" 30"), row(age="30 "), row(age="\t30"), row(apple="-0"),
    row(apple="5\r"), row(apple="0000000000005"), row(apple="007"), row(sex=" M"),
    row(purchased="Y\r"), row(purchased=""), row(sex=""), row(mango="5\x07"), row(age="3\x1f0"),
    row(apple='"5"'), row(sex="\ufeffM"), row(age="\uff130"), row(age="1e1"), row(age="30.0"),
    row()[: row().rindex(",")], row()[: row().rindex(",")] + ",", row() + ",", ",".join([""] * 26),
    ",,,", " ", "\r", "\x1f", "M", row(purchased="N\r\r"), row(age="99999999999999999999"),
]  # fmt: skip
CORPUS = [line if isinstance(line, bytes) else line.encode() for _, line in BAD_LINES] + [
    line.encode("utf-8", errors="surrogateescape") for line in EDGES
]


def parse_both(path, **kwargs):
    """(accepted rows, quarantine bytes) from the fast path and from the reasoned path."""
    results = []
    for fast in (True, False):
        out = path.parent / f"fast-{fast}"
        result = parse_export(
            path, out / "a.parquet", out / "q.csv", max_seconds=3600, fast=fast, **kwargs
        )
        results.append(
            (pl.read_parquet(result.accepted_path), result.quarantine_path.read_bytes(), result)
        )
    return results


def assert_agree(fast, reasoned):
    assert fast[0].equals(reasoned[0])
    assert fast[1] == reasoned[1]
    assert fast[2].rows_read == reasoned[2].rows_read


@pytest.mark.parametrize("label", ["required", "optional"])
@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_both_paths_agree_on_every_kind_of_line(tmp_path, label, header, ending):
    lines = [row().encode(), *CORPUS, row(sex="F", age="99", apple="3600").encode()]
    lines += [row().encode()[: row().rindex(",")]] * 3  # unlabelled visits
    head = [",".join(RAW_COLUMNS).encode()] if header else []
    path = tmp_path / "e.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ending.join(head + lines) + ending)
    fast, reasoned = parse_both(path, label=label)
    assert_agree(fast, reasoned)
    assert fast[2].rows_accepted >= 2  # the valid visits
    assert fast[2].rows_quarantined >= len(BAD_LINES)


def test_both_paths_agree_on_a_million_rows_with_one_percent_broken(tmp_path):
    clean = export(tmp_path / "clean.csv", rows=1_000_000, seed=3).read_bytes().split(b"\n")
    chance = random.Random(16)
    broken = chance.sample(range(len(clean) - 1), k=10_000)
    for number in broken:
        clean[number] = chance.choice(CORPUS)
    path = tmp_path / "dirty.csv"
    path.write_bytes(b"\n".join(clean))
    fast, reasoned = parse_both(path)
    assert_agree(fast, reasoned)
    assert fast[2].rows_quarantined >= 9_000  # a few corpus lines are valid visits
    assert fast[2].rows_read == 1_000_000


@pytest.mark.parametrize("fast", [True, False])
def test_a_separator_byte_ending_the_file_is_kept_not_dropped(tmp_path, fast):
    """polars drops a separator byte that ends the last of several lines: the line would
    lose it, and pass the rules, repaired."""
    path = tmp_path / "e.csv"
    path.write_bytes(f"{row()}\n{row()}\x1f".encode())
    out = tmp_path / "out"
    result = parse_export(path, out / "a.parquet", out / "q.csv", max_seconds=3600, fast=fast)
    assert (result.rows_accepted, result.rows_quarantined) == (1, 1)
    assert pl.read_csv(out / "q.csv")["raw"].to_list() == [f"{row()}\x1f"]
