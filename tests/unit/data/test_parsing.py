"""Parsing: typed rows out, every broken line quarantined with its reason."""

from __future__ import annotations

import gzip
import os

import polars as pl
import pytest
from factories import append_lines, export, read_quarantine, row

from juice.data.parsing import ParseError, parse_export
from juice.schema import DATASET_SCHEMA, RAW_COLUMNS


def parse(path, **kwargs):
    out = path.parent
    kwargs.setdefault("max_seconds", 3600)
    return parse_export(path, out / "accepted.parquet", out / "quarantine.csv", **kwargs)


def test_clean_export_is_typed_and_fully_accepted(tmp_path):
    path = export(tmp_path / "e.csv", rows=200)
    result = parse(path)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (200, 200, 0)
    frame = pl.read_parquet(result.accepted_path)
    assert dict(frame.schema) == DATASET_SCHEMA
    assert frame["line"].to_list() == list(range(1, 201))
    assert frame["source"].unique().to_list() == ["e.csv"]


BAD_LINES = [  # (the reason's start, the line)
    ("empty line", b""),
    ("expected 26 fields", row()[: row().rindex(",")].encode()),
    ("expected 26 fields, found 27", (row() + ",0").encode()),
    ("sex: must be one of F/M", row(sex="X").encode()),
    ("sex: must be one of F/M", row(sex="m").encode()),
    ("age: must be an integer between 18 and 100", row(age="17").encode()),
    ("age: must be an integer between 18 and 100", row(age="101").encode()),
    ("age: must be an integer between 18 and 100", row(age="30.5").encode()),
    ("age: must be an integer between 18 and 100", row(age="").encode()),
    ("apple: seconds must be >= 0", row(apple="-5").encode()),
    ("mango: seconds must be an integer", row(mango="12.5").encode()),
    ("mango: seconds must be an integer", row(mango="abc").encode()),
    ("lime: seconds must be <= 3600", row(lime="3601").encode()),
    ("lime: seconds must be <= 3600", row(lime="99999999999999999999").encode()),
    ("purchased: must be one of Y/N", row(purchased="yes").encode()),
    ("not valid UTF-8 text", row().replace("30", "3\xff0").encode("latin-1")),
]


@pytest.mark.parametrize(("reason", "line"), BAD_LINES)
def test_each_kind_of_bad_line_is_quarantined_with_its_reason(tmp_path, reason, line):
    path = export(tmp_path / "e.csv", rows=50)
    append_lines(path, line, row())
    result = parse(path)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (52, 51, 1)
    quarantined = read_quarantine(result.quarantine_path)
    assert quarantined["line"].to_list() == [51]
    assert quarantined["source"].to_list() == ["e.csv"]
    assert quarantined["reason"][0].startswith(reason)
    assert 51 not in pl.read_parquet(result.accepted_path)["line"].to_list()


def test_several_broken_fields_are_all_named(tmp_path):
    path = tmp_path / "e.csv"
    append_lines(path, row(sex="X", mango="-1", purchased="?"))
    reason = read_quarantine(parse(path).quarantine_path)["reason"][0]
    assert reason.split("; ") == [
        "sex: must be one of F/M",
        "mango: seconds must be >= 0",
        "purchased: must be one of Y/N",
    ]


def test_counts_always_add_up_and_raw_text_is_kept(tmp_path):
    path = export(tmp_path / "e.csv", rows=300, seed=4)
    bad = [b"", b"garbage", row(age="x").encode(), b"\xfe\xff", row(sex='"M"').encode()]
    append_lines(path, *bad)
    result = parse(path)
    assert result.rows_read == 305 == result.rows_accepted + result.rows_quarantined
    quarantined = read_quarantine(result.quarantine_path)
    assert quarantined["line"].to_list() == [301, 302, 303, 304, 305]
    assert quarantined["raw"][2] == row(age="x")


def test_header_row_is_recognised_not_quarantined(tmp_path):
    path = tmp_path / "e.csv"
    append_lines(path, ",".join(RAW_COLUMNS), row(), row(sex="F"))
    result = parse(path)
    assert result.header
    assert result.rows_accepted == 2
    assert result.rows_quarantined == 0
    assert pl.read_parquet(result.accepted_path)["line"].to_list() == [2, 3]


def test_crlf_and_byte_order_mark_are_read(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (row() + "\r\n" + row(sex="F") + "\r\n").encode())
    result = parse(path)
    assert result.rows_accepted == 2
    assert result.rows_quarantined == 0


def test_optional_label_accepts_25_fields_for_scoring(tmp_path):
    path = tmp_path / "e.csv"
    unlabelled = row()[: row().rindex(",")]
    append_lines(path, unlabelled, row(purchased="Y"), row(purchased="maybe"))
    result = parse(path, label="optional")
    assert (result.rows_accepted, result.rows_quarantined) == (2, 1)
    assert pl.read_parquet(result.accepted_path)["purchased"].to_list() == [None, True]


def test_the_seconds_bound_is_configurable(tmp_path):
    path = tmp_path / "e.csv"
    append_lines(path, row(apple="100"), row(apple="101"))
    result = parse(path, max_seconds=100)
    assert (result.rows_accepted, result.rows_quarantined) == (1, 1)


@pytest.mark.parametrize("first", [True, False])
def test_a_line_holding_the_internal_separator_is_still_judged(tmp_path, first):
    path = tmp_path / "e.csv"
    lines = [row(), row(age="3\x1f0")]
    append_lines(path, *(lines[::-1] if first else lines))
    result = parse(path)
    assert (result.rows_accepted, result.rows_quarantined) == (1, 1)


@pytest.mark.parametrize("content", [None, b""])
def test_missing_or_empty_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "e.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ParseError, match=r"e\.csv"):
        parse(path)


def test_blocks_keep_line_numbers_and_counts(tmp_path, monkeypatch):
    monkeypatch.setattr("juice.data.parsing._BLOCK_BYTES", 300)  # a few lines per block
    path = export(tmp_path / "e.csv", rows=40, seed=2)
    append_lines(path, row(sex="X"), "", row(), row(age="7"))
    result = parse(path)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (44, 41, 3)
    assert pl.read_parquet(result.accepted_path)["line"].to_list() == [*range(1, 41), 43]
    assert read_quarantine(result.quarantine_path)["line"].to_list() == [41, 42, 44]


@pytest.mark.parametrize("length", [5_000, 64_000])
def test_an_overlong_line_is_quarantined_cut_and_later_lines_keep_their_numbers(
    tmp_path, monkeypatch, length
):
    monkeypatch.setattr("juice.data.parsing._BLOCK_BYTES", 300)
    monkeypatch.setattr("juice.data.parsing._MAX_LINE_BYTES", 1000)
    path = tmp_path / "e.csv"
    append_lines(path, *[row()] * 5, "x" * length, row(), "y" * length)
    result = parse(path)
    assert pl.read_parquet(result.accepted_path)["line"].to_list() == [1, 2, 3, 4, 5, 7]
    quarantined = read_quarantine(result.quarantine_path)
    assert quarantined["line"].to_list() == [6, 8]
    assert quarantined["raw"].str.len_bytes().max() <= 300 + 1000  # a block and the cut rest


def _gzip_over_a_block(path):
    """A gzip bigger than one parsing block (its data incompressible)."""
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(os.urandom(17 << 20))


UNREADABLE = [  # (the reason's start, how the file is made)
    ("the file is empty", lambda path: path.write_bytes(b"")),
    ("binary data", lambda path: path.write_bytes(os.urandom(100_000))),
    ("gzip-compressed", lambda path: path.write_bytes(gzip.compress(row().encode()))),
    ("gzip-compressed", _gzip_over_a_block),
    ("zip-compressed", lambda path: path.write_bytes(b"PK\x03\x04" + row().encode())),
    ("UTF-16", lambda path: path.write_text(row() + "\n", encoding="utf-16")),
]


@pytest.mark.parametrize(("reason", "make"), UNREADABLE)
def test_a_file_that_is_no_text_export_is_refused_naming_it_and_why(tmp_path, reason, make):
    path = tmp_path / "e.csv"
    make(path)
    with pytest.raises(ParseError, match=r"e\.csv") as raised:
        parse(path)
    assert raised.value.reason.startswith(reason)


def test_lines_holding_every_internal_separator_are_quarantined_not_fatal(tmp_path):
    path = export(tmp_path / "e.csv", rows=30)
    append_lines(path, *(row(age=f"3{byte}0") for byte in "\x1f\x1e\x1d\x1c\x01"), b"", row())
    result = parse(path)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (37, 31, 6)
    quarantined = read_quarantine(result.quarantine_path)
    assert quarantined["line"].to_list() == [31, 32, 33, 34, 35, 36]
    assert quarantined["raw"][4] == row(age="3\x010")
    assert quarantined["reason"][5] == "empty line"


def test_the_python_split_reads_lines_as_polars_does(tmp_path):
    path = tmp_path / "e.csv"
    lines = [row(), b"", row(sex="\x1f\x1e\x1d\x1c\x01"), row(age="3X").replace("X", "\udcff")]
    text = "\r\n".join(line if isinstance(line, str) else "" for line in lines) + "\n" + row()
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8", "surrogateescape"))
    result = parse(path)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (5, 2, 3)
    quarantined = read_quarantine(result.quarantine_path)
    assert quarantined["line"].to_list() == [2, 3, 4]
    assert quarantined["reason"][0] == "empty line"
    assert quarantined["reason"][2] == "not valid UTF-8 text"


def _reordered(path, names, rows):
    """An export whose header row (and rows) put the fields in the order of `names`."""
    order = [name.strip().strip('"').lower() for name in names]
    lines = [",".join(names)]
    for values in rows:
        by_name = dict(zip(RAW_COLUMNS, values.split(","), strict=True))
        lines.append(",".join(by_name[name] for name in order))
    append_lines(path, *lines)


def test_a_header_in_another_order_and_case_is_mapped_by_name(tmp_path):
    path = tmp_path / "e.csv"
    names = [n.upper() if i % 2 else f' "{n.title()}"' for i, n in enumerate(RAW_COLUMNS)]
    rows = [
        row(sex="F", age="41", mango="12", purchased="Y"),
        row(age="77", apple="3"),
        row(age="7"),
    ]
    _reordered(path, names[::-1], rows)
    result = parse(path)
    assert result.header
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (3, 2, 1)
    frame = pl.read_parquet(result.accepted_path)
    assert frame.select("sex", "age", "mango", "apple", "purchased").rows() == [
        ("F", 41, 12, 0, True),
        ("M", 77, 0, 3, False),
    ]
    assert read_quarantine(result.quarantine_path)["reason"].to_list() == [
        "age: must be an integer between 18 and 100"
    ]


def test_a_file_to_score_may_name_its_columns_without_the_label(tmp_path):
    path = tmp_path / "e.csv"
    unlabelled = [name for name in RAW_COLUMNS if name != "purchased"]
    append_lines(path, ",".join(unlabelled[::-1]), ",".join(row(age="50").split(",")[:-1][::-1]))
    result = parse(path, label="optional")
    assert (result.rows_accepted, result.rows_quarantined) == (1, 0)
    assert pl.read_parquet(result.accepted_path).select("age", "purchased").row(0) == (50, None)


@pytest.mark.parametrize(
    ("names", "label", "reason"),
    [
        (["visitor_id", *RAW_COLUMNS], "required", "names unknown columns: 'visitor_id'"),
        ([*RAW_COLUMNS[:-1], "Sex"], "optional", "names sex more than once"),
        (list(RAW_COLUMNS[:-1]), "required", "lacks purchased"),
        (list(RAW_COLUMNS[1:]), "optional", "lacks sex"),
    ],
)
def test_a_header_naming_unknown_or_missing_columns_is_refused_with_the_reason(
    tmp_path, names, label, reason
):
    path = tmp_path / "e.csv"
    append_lines(path, ",".join(names), row())
    with pytest.raises(ParseError) as raised:
        parse(path, label=label)
    assert raised.value.reason == f"the header row {reason}"


FORMULAS = ['=HYPERLINK("http://evil.example","x"),30', "+1", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


def test_quarantined_text_is_inert_in_a_spreadsheet_and_the_export_keeps_its_bytes(tmp_path):
    path = tmp_path / "=cmd.csv"
    append_lines(path, row(), *FORMULAS, row(sex="X"))
    content = path.read_bytes()
    result = parse(path)
    quarantined = read_quarantine(result.quarantine_path)
    assert quarantined["raw"].to_list() == [f"'{line}" for line in FORMULAS] + [row(sex="X")]
    assert quarantined["source"].unique().to_list() == ["'=cmd.csv"]
    assert path.read_bytes() == content
