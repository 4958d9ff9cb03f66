"""Kept parse and validation results: found again by content and parameters only."""

from __future__ import annotations

from factories import export

from juice.data.cache import ExportCache
from juice.data.dataset import parse_landed, validate_parsed
from juice.params import BuildDatasetParams

PARAMS = BuildDatasetParams()


def processed(path, staging, params=PARAMS):
    parsed = parse_landed(path, staging, params)
    return parsed, validate_parsed(parsed, params)


def test_cached_results_come_back_as_they_were_written(tmp_path):
    path = export(tmp_path / "e.csv", rows=300)
    cache = ExportCache(tmp_path / "cache", PARAMS)
    parsed, report = processed(path, tmp_path / "first")
    assert cache.get(path, tmp_path / "a.parquet", tmp_path / "q.csv") is None
    cache.put(path, parsed, report)

    cached_parsed, cached_report = cache.get(path, tmp_path / "a.parquet", tmp_path / "q.csv")
    assert cached_report == report
    assert cached_parsed.rows_accepted == parsed.rows_accepted == 300
    assert (tmp_path / "a.parquet").read_bytes() == parsed.accepted_path.read_bytes()
    assert (tmp_path / "q.csv").read_bytes() == parsed.quarantine_path.read_bytes()


def test_other_content_or_parameters_find_nothing_and_prune_removes_what_no_build_used(tmp_path):
    path = export(tmp_path / "e.csv", rows=100)
    cache = ExportCache(tmp_path / "cache", PARAMS)
    cache.put(path, *processed(path, tmp_path / "first"))

    stricter = BuildDatasetParams(max_seconds=60)
    assert (
        ExportCache(tmp_path / "cache", stricter).get(path, tmp_path / "a", tmp_path / "q") is None
    )
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))  # one byte more
    other = ExportCache(tmp_path / "cache", PARAMS)
    assert other.get(path, tmp_path / "a", tmp_path / "q") is None
    assert other.prune() == 1
    assert list((tmp_path / "cache").iterdir()) == []
