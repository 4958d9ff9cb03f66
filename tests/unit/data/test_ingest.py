"""Ingest: exports land once, unchanged, from files, folders, URLs or the simulator."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest
from factories import export, row

from juice.data.ingest import IngestError, IngestLimits, SimulatorSource, ingest
from juice.workspace import Workspace

SIM = SimulatorSource(rows=100, scenario="stable", seed=0)


def land(sources, home: Path, **limits):
    return ingest(sources, Workspace(home), SIM, IngestLimits(**limits))


def landed(home: Path) -> list[str]:
    """What the landing zone holds, hidden files included."""
    return sorted(path.name for path in Workspace(home).landing.iterdir())


def refusal(result) -> str:
    [refused] = result.refused
    assert result.files == []
    return refused.reason


def test_a_file_lands_unchanged_and_read_only(tmp_path):
    source = export(tmp_path / "visits.csv", rows=20)
    result = land([str(source)], tmp_path)
    [landed] = result.files
    assert landed.read_bytes() == source.read_bytes()
    assert landed.name.startswith("visits-")
    assert not landed.stat().st_mode & 0o222
    assert list(Workspace(tmp_path).staging.iterdir()) == []  # copied through, then gone


def test_the_same_content_twice_is_skipped(tmp_path):
    source = export(tmp_path / "a.csv", rows=20)
    copy = tmp_path / "b.csv"
    copy.write_bytes(source.read_bytes())
    first = land([str(source)], tmp_path)
    second = land([str(source), str(copy)], tmp_path)
    assert len(first.files) == 1
    assert second.files == []
    assert second.skipped == ["a.csv", "b.csv"]
    assert len(landed(tmp_path)) == 1


def test_a_folder_lands_each_csv(tmp_path):
    folder = tmp_path / "drop"
    export(folder / "one.csv", seed=1, rows=10)
    export(folder / "two.CSV", seed=2, rows=10)
    (folder / "notes.txt").write_text("not an export")
    result = land([str(folder)], tmp_path)
    assert sorted(p.name.split("-")[0] for p in result.files) == ["one", "two"]


def test_no_source_pulls_the_next_simulated_export(tmp_path):
    first, second = land([], tmp_path), land([], tmp_path)
    assert first.files[0].name.startswith("sim-stable-seed0-")
    assert second.files[0].name.startswith("sim-stable-seed1-")
    assert len(first.files[0].read_text().splitlines()) == 100


@pytest.mark.parametrize("source", ["missing.csv", "ftp://example.org/e.csv"])
def test_an_unknown_source_is_a_clear_error(tmp_path, source):
    with pytest.raises(IngestError, match="no such file"):
        land([source], tmp_path)


def test_an_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match=r"holds no \.csv"):
        land([str(tmp_path / "empty")], tmp_path)


NOT_EXPORTS = [  # (the reason's start, the file's bytes)
    ("the file is empty", b""),
    ("binary data", os.urandom(50_000)),
    ("UTF-16", (row() + "\n").encode("utf-16")),
    ("zip-compressed", b"PK\x03\x04" + row().encode()),
    ("not an export: no line of 26", b"<html><body>Session expired</body></html>\n"),
    ("not an export: no line of 26", b"\x1f\x1e\x1d\x1c\x01" * 1000),
    ("gzip-compressed", gzip.compress(gzip.compress(row().encode()))),  # a gzip in a gzip
]


@pytest.mark.parametrize(("reason", "content"), NOT_EXPORTS)
def test_what_is_not_an_export_is_refused_with_its_reason_and_the_rest_lands(
    tmp_path, reason, content
):
    folder = tmp_path / "drop"
    export(folder / "good.csv", rows=10)
    (folder / "bad.csv").write_bytes(content)
    result = land([str(folder)], tmp_path)
    [refused] = result.refused
    assert refused.source == "bad.csv"
    assert refused.reason.startswith(f"bad.csv: {reason}")
    assert [path.name.split("-")[0] for path in result.files] == ["good"]
    assert landed(tmp_path) == [result.files[0].name]


def test_a_gzip_export_lands_decompressed_and_counts_as_its_content(tmp_path):
    plain = export(tmp_path / "day.csv", rows=40)
    packed = tmp_path / "day.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    result = land([str(packed)], tmp_path)
    [landed] = result.files
    assert result.decompressed == [landed]
    assert landed.name.startswith("day-")
    assert landed.read_bytes() == plain.read_bytes()
    assert land([str(plain)], tmp_path).skipped == ["day.csv"]


def test_a_gzip_that_decompresses_beyond_the_cap_is_refused(tmp_path):
    plain = export(tmp_path / "day.csv", rows=3000)  # about 170 KB
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(plain.read_bytes()))
    assert bomb.stat().st_size < 100_000
    reason = refusal(land([str(bomb)], tmp_path, max_bytes=100_000))
    assert reason.startswith("bomb.csv.gz: decompresses to more than 0.095")
    assert "JUICE_INGEST_MAX_SIZE" in reason
    assert landed(tmp_path) == []
    assert land([str(bomb)], tmp_path, max_bytes=200_000).decompressed


def test_a_plain_file_beyond_the_cap_is_refused(tmp_path):
    plain = export(tmp_path / "day.csv", rows=3000)
    reason = refusal(land([str(plain)], tmp_path, max_bytes=100_000))
    assert reason.startswith("day.csv: holds more than")


def test_a_truncated_gzip_is_refused(tmp_path):
    packed = gzip.compress(export(tmp_path / "day.csv", rows=500).read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    reason = refusal(land([str(tmp_path / "cut.csv.gz")], tmp_path))
    assert reason.startswith("cut.csv.gz: a truncated or corrupt gzip")


def test_a_url_is_streamed_into_the_landing_zone(tmp_path, export_server):
    result = land([f"{export_server.url}/exports/day1.csv"], tmp_path)
    [landed] = result.files
    assert landed.name.startswith("day1-")
    assert landed.read_bytes() == export_server.body


def test_a_flaky_server_is_retried(tmp_path, export_server):
    export_server.failures = 2
    result = land([f"{export_server.url}/day.csv"], tmp_path, attempts=3)
    assert len(result.files) == 1
    assert export_server.requests == 3


def test_a_failing_server_is_refused_with_a_clear_reason(tmp_path, export_server):
    export_server.failures = 99
    assert "answered 503" in refusal(land([f"{export_server.url}/day.csv"], tmp_path, attempts=2))
    assert export_server.requests == 2
    assert landed(tmp_path) == []


def test_a_missing_export_is_not_retried(tmp_path, export_server):
    assert "answered 404" in refusal(land([f"{export_server.url}/missing.csv"], tmp_path))
    assert export_server.requests == 1


def test_an_unreachable_server_is_a_clear_reason(tmp_path):
    result = land(["http://127.0.0.1:9/e.csv"], tmp_path, attempts=1, timeout=2)
    assert "download failed" in refusal(result)


def test_a_trickling_download_is_stopped_at_the_deadline(tmp_path, export_server):
    started = time.monotonic()
    result = land([f"{export_server.url}/trickle.csv"], tmp_path, deadline=2, timeout=10)
    took = time.monotonic() - started
    reason = refusal(result)
    assert "stopped: it took longer than 2 s (JUICE_INGEST_DEADLINE_SECONDS)" in reason
    assert 2 <= took < 3.5, took
    assert landed(tmp_path) == []


def test_a_silent_server_is_cut_off_at_the_deadline(tmp_path, export_server):
    export_server.pause = 30  # one byte, then silence
    started = time.monotonic()
    result = land([f"{export_server.url}/trickle.csv"], tmp_path, deadline=2, timeout=10)
    assert "took longer than 2 s" in refusal(result)
    assert time.monotonic() - started < 3.5


@pytest.mark.parametrize(("path", "said"), [("endless", "sent"), ("announced", "announced")])
def test_a_download_beyond_the_size_cap_is_stopped(tmp_path, export_server, path, said):
    result = land([f"{export_server.url}/{path}.csv"], tmp_path, max_bytes=5 << 20)
    assert f"stopped: it {said} more than 5 MiB (JUICE_INGEST_MAX_SIZE)" in refusal(result)
    assert export_server.requests == 1
