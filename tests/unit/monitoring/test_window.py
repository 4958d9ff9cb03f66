"""The drift window: the valid rows of the exports it judges."""

from __future__ import annotations

from factories import append_lines, export, row

from juice.monitoring.window import read_window


def test_a_file_that_cannot_be_read_is_left_out_with_its_reason(tmp_path):
    first = export(tmp_path / "first.csv", rows=30, seed=1)
    (tmp_path / "noise.csv").write_bytes(b"\x00\x01" * 100)
    last = export(tmp_path / "last.csv", rows=20, seed=2)
    append_lines(last, row(sex="X"))
    window = read_window([first, tmp_path / "noise.csv", last], max_seconds=3600)
    assert window.visits.height == 50
    assert window.sources == ["first.csv", "last.csv"]
    assert window.rows_set_aside == 1
    assert window.unreadable == ["noise.csv: binary data (NUL bytes), not a CSV export"]
