"""Parse analytics exports with polars: typed rows out, every broken line set aside with its reason.

An export is read as raw lines, in blocks (so memory does not grow with the file),
split on commas and checked field by field against the schema. A line is accepted
only if every rule holds; otherwise it goes to the quarantine file with the source,
its line number, the reasons and the raw text (made inert for spreadsheets). Nothing is
dropped or repaired: accepted + quarantined = lines read.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import polars as pl
from polars.io.plugins import register_io_source

from juice.data.sniffing import SAMPLE_BYTES, unreadable
from juice.errors import JuiceError
from juice.schema import (
    AGE,
    DATASET_SCHEMA,
    FEATURES,
    FLAVOURS,
    LABEL,
    LABEL_CODES,
    LINE,
    RAW_COLUMNS,
    SEX,
    SEX_CODES,
    SOURCE,
    SexDtype,
    value_ranges,
)
from juice.streams import ahead

RAW = "raw"
REASON = "reason"
LabelRule = Literal["required", "optional"]

_SEPARATORS = "\x1f\x1e\x1d\x1c\x01"  # a line is read whole with a byte no export should hold
_BLOCK_BYTES = 16 << 20  # whole lines parsed at a time: bounds memory whatever the file size
_MAX_LINE_BYTES = 1 << 20  # an export line is a few hundred bytes; past this it is cut
_DIGITS = r"^0*[0-9]{1,9}$"  # nine digits keep every accepted value inside Int64
_NEWLINE = ord("\n")


class ParseError(JuiceError):
    """The export cannot be read at all (missing, empty, compressed, binary)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class ParseResult:
    """What one export gave: counts add up to the data lines read."""

    source: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    header: bool
    accepted_path: Path
    quarantine_path: Path


def parse_export(
    path: Path,
    accepted_path: Path,
    quarantine_path: Path,
    *,
    max_seconds: int,
    label: LabelRule = "required",
    source: str | None = None,
    fast: bool = True,
) -> ParseResult:
    """Parses one export into a typed Parquet file and a quarantine CSV.

    Args:
        path: the export (headerless CSV, or with a header row of the field names, in
            any order and case).
        accepted_path: Parquet file for the accepted rows, typed as `DATASET_SCHEMA`.
        quarantine_path: CSV file for the rejected lines (source, line, reason, raw).
        max_seconds: seconds of one ad above this are absurd.
        label: "required" for training data; "optional" for files to score, which
            may omit the 26th field.
        source: the name recorded with each row; the file name by default.
        fast: False sends every line down the reasoned path (the tests prove both paths
            give the same result).
    """
    export = ExportBlocks(
        path, quarantine_path, max_seconds=max_seconds, label=label, source=source, fast=fast
    )
    accepted_path.parent.mkdir(parents=True, exist_ok=True)
    # One streaming write, block by block: memory stays bounded whatever the file size.
    register_io_source(lambda *_: iter(export), schema=DATASET_SCHEMA).sink_parquet(
        accepted_path, statistics=False, compression_level=1
    )
    return ParseResult(
        source=export.source,
        rows_read=export.accepted + export.quarantined,
        rows_accepted=export.accepted,
        rows_quarantined=export.quarantined,
        header=export.layout.header,
        accepted_path=accepted_path,
        quarantine_path=quarantine_path,
    )


class ExportBlocks:
    """An export's accepted rows, block by block (typed as `DATASET_SCHEMA`, in line
    order), for a consumer that streams them (`parse_export` writes them to Parquet).
    Once the last block is read, its broken lines are in the quarantine CSV and the
    counts are set. Arguments as `parse_export`'s; a file that cannot be read at all
    raises `ParseError` here, before any block."""

    def __init__(
        self,
        path: Path,
        quarantine_path: Path,
        *,
        max_seconds: int,
        label: LabelRule = "required",
        source: str | None = None,
        fast: bool = True,
    ) -> None:
        if not path.is_file():
            raise ParseError(path, "no such file")
        with path.open("rb") as stream:
            if reason := unreadable(stream.read(SAMPLE_BYTES)):
                raise ParseError(path, reason)
        self.path, self.quarantine_path, self.fast = path, quarantine_path, fast
        self.source = source or path.name
        self.layout = _layout(path, max_seconds, label)
        self.accepted = self.quarantined = 0

    def __iter__(self) -> Generator[pl.DataFrame, None, None]:
        self.accepted = self.quarantined = 0  # each reading counts afresh
        self.quarantine_path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(dir=self.quarantine_path.parent, prefix=f".{self.path.name}.")
        )
        try:
            rejected = _Rejected(staging)
            for rows, broken in ahead(self._sorted_blocks()):
                rejected.keep(broken)
                self.accepted += len(rows)
                yield rows
            rejected.write(self.quarantine_path, self.layout, self.source)
            self.quarantined = rejected.count
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _sorted_blocks(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        """Each block judged while the next is read with polars' typed reader (and the
        one before is consumed): three stages, so both cores stay busy."""
        read = (
            (block, first_line, _read_typed(block, lines, self.layout) if self.fast else None)
            for block, first_line, lines in _blocks(self.path, self.layout.header)
        )
        for block, first_line, typed in ahead(read):
            yield _accepted_and_broken(
                block, first_line, typed, self.layout, self.source, self.path
            )


@dataclass(frozen=True)
class _Layout:
    """How the lines of one export are read: where each field of the contract sits in a
    line (None: the file has no such column), and the rules a line must meet."""

    header: bool
    columns: tuple[str, ...]  # the file's fields, in its order
    positions: tuple[int | None, ...]
    rules: list[tuple[pl.Expr, pl.Expr]]
    label: LabelRule
    max_seconds: int


def _layout(path: Path, max_seconds: int, label: LabelRule) -> _Layout:
    """The export's layout: the contract's order, or the order its header row names.

    A first line naming any field of the contract is a header (in any case): every name
    in it must be known and appear once, and it must name each field the file needs.
    """
    counts = (len(RAW_COLUMNS),) if label == "required" else (len(FEATURES), len(RAW_COLUMNS))
    with path.open("rb") as stream:
        first = stream.readline(_MAX_LINE_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    names = [name.strip().strip('"').lower() for name in first.rstrip("\r\n").split(",")]
    if not set(names) & set(RAW_COLUMNS):
        rules = _rules(max_seconds, label, counts)
        in_order = tuple(range(len(RAW_COLUMNS)))
        return _Layout(False, RAW_COLUMNS, in_order, rules, label, max_seconds)
    if unknown := [name for name in names if name not in RAW_COLUMNS]:
        listed = ", ".join(map(repr, unknown))
        raise ParseError(path, f"the header row names unknown columns: {listed}")
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise ParseError(path, f"the header row names {', '.join(twice)} more than once")
    needed = RAW_COLUMNS if label == "required" else FEATURES
    if missing := [name for name in needed if name not in names]:
        raise ParseError(path, f"the header row lacks {', '.join(missing)}")
    positions = tuple(names.index(name) if name in names else None for name in RAW_COLUMNS)
    rules = _rules(max_seconds, label, (len(names),))
    return _Layout(True, tuple(names), positions, rules, label, max_seconds)


def _blocks(path: Path, header: bool) -> Iterator[tuple[bytes, int, int]]:
    """The export in blocks of whole lines, each with its first line's number and its
    number of lines."""
    line = 1
    with path.open("rb") as stream:
        if header:
            stream.readline()
            line = 2
        yielded = False
        while block := stream.read(_BLOCK_BYTES):
            block += _rest_of_line(stream)  # finish the last line
            newlines = np.count_nonzero(np.frombuffer(block, np.uint8) == _NEWLINE)  # no GIL
            yield block, line, newlines + (not block.endswith(b"\n"))
            yielded = True
            line += newlines
        if not yielded:
            yield b"", line, 0


def _rest_of_line(stream: BinaryIO) -> bytes:
    """The rest of the current line, cut to _MAX_LINE_BYTES (the remainder is skipped, the
    line still counted): a line of hundreds of MB would otherwise be held, and parsed, whole."""
    rest = stream.readline(_MAX_LINE_BYTES)
    if len(rest) < _MAX_LINE_BYTES or rest.endswith(b"\n"):
        return rest
    while more := stream.readline(_MAX_LINE_BYTES):
        if more.endswith(b"\n"):
            return rest + b"\n"
    return rest


def _accepted_and_broken(
    block: bytes,
    first_line: int,
    read: tuple[pl.DataFrame, pl.Series] | None,
    layout: _Layout,
    source: str,
    path: Path,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The block's accepted rows (typed as `DATASET_SCHEMA`) and broken lines (LINE, RAW).

    The fast path has read the block once with the schema's dtypes and checked the rules
    on the typed columns (`_read_typed`); only the lines it flags (and every line of a
    block it could not read so, `read` None) take the reasoned path, which splits the
    raw text field by field.
    """
    if read is None:
        return _reasoned_accepted_and_broken(_raw_lines(block, first_line, path), layout, source)
    typed, flagged = read
    rows = typed.with_row_index(LINE, offset=first_line)
    marks = _suspicious(block)
    if not marks and not flagged.any():
        return rows.select(_fast_path_columns(source)), _NO_LINES
    newlines = np.flatnonzero(np.frombuffer(block, np.uint8) == _NEWLINE)
    flagged = flagged.scatter(np.unique(np.searchsorted(newlines, marks)), True)
    rows = rows.filter(~flagged).select(_fast_path_columns(source))
    doubted = _lines_at(block, newlines, flagged.arg_true().to_numpy())
    checked, broken = _reasoned_accepted_and_broken(
        doubted.with_columns(pl.col(LINE) + first_line), layout, source
    )
    if len(checked):  # lines the fast path doubted but the rules accept: back in line order
        rows = pl.concat([rows, checked]).sort(LINE)
    return rows, broken


def _read_typed(block: bytes, lines: int, layout: _Layout) -> tuple[pl.DataFrame, pl.Series] | None:
    """The block read with the contract's dtypes, one row per line, and a flag per line the
    checks cannot accept as read; None when polars cannot read it so (a line with too many
    fields, a first line of another width)."""
    columns = layout.columns
    if not layout.header and layout.label == "optional":
        end = block.find(b"\n")
        width = (block if end < 0 else block[:end]).count(b",") + 1
        columns = RAW_COLUMNS[:width] if width in (len(FEATURES), len(RAW_COLUMNS)) else ()
    if not block or not columns:
        return None
    schema = {name: _TYPED[name] for name in columns}
    try:
        typed = pl.read_csv(
            block, has_header=False, schema=schema, quote_char=None, ignore_errors=True,
            encoding="utf8-lossy", raise_if_empty=False,
        )  # fmt: skip
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
        return None
    if len(typed) != lines:
        return None
    typed = typed.with_columns(
        pl.lit(None, _TYPED[name]).alias(name) for name in RAW_COLUMNS if name not in columns
    ).select(RAW_COLUMNS)
    return typed, typed.select(_flags(columns, layout.max_seconds)).to_series()


# How the fast path reads each field: codes as text, counts in the dataset's integer types
# (a number too large for its type reads as null, so the line goes to the reasoned path).
_TYPED = {SEX: pl.String, LABEL: pl.String} | {
    name: DATASET_SCHEMA[name] for name in (AGE, *FLAVOURS)
}
# Bytes polars' integer parser tolerates and the rules do not ("+5", " 5", "-0", "5\r").
_LENIENT = (b"\t", b" ", b"+", b"-")


def _flags(columns: tuple[str, ...], max_seconds: int) -> pl.Expr:
    """True for a line the fast path cannot accept as read: a field missing, empty or
    unreadable (null), a code outside its set, a number out of range."""
    label = pl.col(LABEL)
    outside = [
        ~pl.col(name).is_between(*bounds) for name, bounds in value_ranges(max_seconds).items()
    ]
    return (
        pl.any_horizontal(pl.col(columns).is_null())
        | ~_one_of(pl.col(SEX), SEX_CODES)
        | pl.any_horizontal(outside)
        | (label.is_not_null() & ~_one_of(label, LABEL_CODES))
    ).fill_null(True)


def _one_of(text: pl.Expr, codes: Iterable[str]) -> pl.Expr:
    """`is_in` for a handful of codes, as comparisons (a quarter of its cost)."""
    return pl.any_horizontal(text == code for code in codes)


def _suspicious(block: bytes) -> list[int]:
    """Where the block holds a byte polars' integer parser tolerates and the rules do not (a
    sign, a blank, a carriage return inside a line): the reasoned path judges those lines.
    Clean exports hold none, so this costs a few scans of the block."""
    marks = [at for byte in _LENIENT if byte in block for at in _positions(block, byte)]
    if b"\r" in block and block.count(b"\r") > block.count(b"\r\n"):
        marks += [at for at in _positions(block, b"\r") if block[at + 1 : at + 2] != b"\n"]
    return marks


def _positions(block: bytes, byte: bytes) -> Iterator[int]:
    at = block.find(byte)
    while at >= 0:
        yield at
        at = block.find(byte, at + 1)


def _lines_at(block: bytes, newlines: np.ndarray, indices: np.ndarray) -> pl.DataFrame:
    """Lines of the block by index (0-based LINE), decoded as polars' reader gives them."""
    starts = np.concatenate(([0], newlines + 1))[indices]
    ends = np.concatenate((newlines, [len(block)]))[indices]
    pairs = zip(starts, ends, strict=True)
    raw = [_text(block[start:end], first=start == 0) for start, end in pairs]
    return pl.DataFrame({LINE: indices, RAW: raw}, schema={LINE: pl.Int64, RAW: pl.String})


def _text(line: bytes, *, first: bool) -> str | None:
    text = line.decode("utf-8", errors="replace").removesuffix("\r")
    return (text.removeprefix("\ufeff") if first else text) or None


def _raw_lines(block: bytes, first_line: int, path: Path) -> pl.DataFrame:
    """The block's lines, whole (LINE, RAW): read by polars with a separator byte the block
    does not hold; split in Python for the rare block that holds all of them. (A byte the
    block holds would split a line, or vanish: polars drops a separator that ends the
    last of several lines.)"""
    for separator in _SEPARATORS:
        if separator.encode() in block:
            continue
        try:
            lines = pl.read_csv(
                block, has_header=False, separator=separator, quote_char=None,
                schema={RAW: pl.String}, encoding="utf8-lossy", raise_if_empty=False,
            )  # fmt: skip
        except pl.exceptions.PolarsError as error:
            raise ParseError(path, str(error)) from error
        return lines.with_row_index(LINE, offset=first_line).with_columns(
            pl.col(LINE).cast(pl.Int64)
        )
    pieces = block.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()  # the newline ends the last line; it does not start another
    raw = [_text(line, first=number == 0) for number, line in enumerate(pieces)]
    return pl.DataFrame(
        {LINE: range(first_line, first_line + len(raw)), RAW: raw},
        schema={LINE: pl.Int64, RAW: pl.String},
    )


def _reasoned_accepted_and_broken(
    lines: pl.DataFrame, layout: _Layout, source: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The reasoned path: each line split on commas and every rule checked on the text."""
    bad = pl.any_horizontal([broken for broken, _ in layout.rules])
    judged = (
        _split(lines.lazy(), layout.positions)
        .select(*_reasoned_path_columns(source), bad.alias(_BAD), pl.col(RAW))
        .collect()
    )
    rows = judged.filter(~pl.col(_BAD)).drop(_BAD, RAW)
    return rows, judged.filter(pl.col(_BAD)).select(LINE, RAW)


_NO_LINES = pl.DataFrame(schema={LINE: pl.Int64, RAW: pl.String})


class _Rejected:
    """The broken lines of an export, kept block by block on disk (an export may be all
    broken), then written to the quarantine CSV with their reasons."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.parts: list[Path] = []
        self.count = 0

    def keep(self, lines: pl.DataFrame) -> None:
        if len(lines):
            self.parts.append(self.staging / f"{len(self.parts):06d}.arrow")
            lines.write_ipc(self.parts[-1])
            self.count += len(lines)

    def write(self, path: Path, layout: _Layout, source: str) -> None:
        lines = pl.scan_ipc(self.parts) if self.parts else _NO_LINES.lazy()
        reasons = pl.concat_str(
            [pl.when(broken).then(message) for broken, message in layout.rules],
            separator="; ",
            ignore_nulls=True,
        )
        _split(lines, layout.positions).select(
            _inert(pl.lit(source)).alias(SOURCE),
            pl.col(LINE),
            reasons.alias(REASON),
            _inert(pl.col(RAW)).alias(RAW),
        ).sink_csv(path)


def _inert(text: pl.Expr) -> pl.Expr:
    """Text a spreadsheet shows as text: a cell that starts like a formula (= + - @, tab,
    carriage return) gets a leading apostrophe, as OWASP advises against CSV injection.
    The quarantine is for people; the exact bytes stay in the export (by line number)."""
    formula = text.str.contains(r"^[=+\-@\t\r]")
    return pl.when(formula).then(pl.concat_str(pl.lit("'"), text)).otherwise(text)


def _split(lines: pl.LazyFrame, positions: tuple[int | None, ...]) -> pl.LazyFrame:
    """Adds the field count, each contract field's text (from its position in the line)
    and the numeric fields' integer values."""
    fields = pl.col(_LIST)
    return (
        lines.with_columns(pl.col(RAW).str.split(",").alias(_LIST))
        .with_columns(
            fields.list.len().alias(_COUNT),
            *(
                (
                    pl.lit(None, pl.String) if at is None else fields.list.get(at, null_on_oob=True)
                ).alias(name)
                for at, name in zip(positions, _FIELDS, strict=True)
            ),
        )
        .with_columns(_integer(pl.col(_FIELDS[i])).alias(_VALUES[i]) for i in _NUMERIC)
    )


_LIST = "_fields"
_BAD = "_bad"
_COUNT = "_count"
_FIELDS = [f"_field{i}" for i in range(len(RAW_COLUMNS))]
_VALUES = [f"_value{i}" for i in range(len(RAW_COLUMNS))]
_NUMERIC = range(1, len(FEATURES))  # age and the flavours


def _integer(text: pl.Expr) -> pl.Expr:
    """The field as an integer, or null when it is not a short run of digits."""
    return pl.when(text.str.contains(_DIGITS)).then(text.cast(pl.Int64, strict=False))


def _rules(
    max_seconds: int, label: LabelRule, counts: tuple[int, ...]
) -> list[tuple[pl.Expr, pl.Expr]]:
    """(condition that breaks a rule, reason) pairs; conditions are never null.

    Reasons are only evaluated on the few broken lines, so they may be detailed.
    """
    raw = pl.col(RAW)
    empty = raw.is_null()
    garbled = raw.str.contains("\ufffd", literal=True).fill_null(False)
    wrong_count = ~(empty | garbled) & ~pl.col(_COUNT).is_in(counts).fill_null(False)
    # Field rules only make sense on a line of the right shape.
    shaped = ~(empty | garbled | wrong_count)

    def broken(condition: pl.Expr) -> pl.Expr:
        return shaped & condition.fill_null(True)

    ranges = value_ranges(max_seconds)
    youngest, oldest = ranges[AGE]

    rules = [
        (empty, pl.lit("empty line")),
        (garbled, pl.lit("not valid UTF-8 text")),
        (
            wrong_count,
            pl.format(
                "expected {} fields, found {}", pl.lit(" or ".join(map(str, counts))), _COUNT
            ),
        ),
        (
            broken(~pl.col(_FIELDS[0]).is_in(SEX_CODES)),
            pl.lit(f"{SEX}: must be one of {'/'.join(SEX_CODES)}"),
        ),
        (
            broken(~pl.col(_VALUES[1]).is_between(youngest, oldest)),
            pl.lit(f"{AGE}: must be an integer between {youngest} and {oldest}"),
        ),
    ]
    for position, flavour in enumerate(FLAVOURS, start=2):
        text = pl.col(_FIELDS[position])
        least, most = ranges[flavour]  # digits alone: never below the least
        rules.append(
            (
                broken(pl.col(_VALUES[position]) > most),
                pl.when(text.str.contains(r"^-[0-9]+$"))
                .then(pl.lit(f"{flavour}: seconds must be >= {least}"))
                .when(text.str.contains(r"^[0-9]+$"))
                .then(pl.lit(f"{flavour}: seconds must be <= {most}"))
                .otherwise(pl.lit(f"{flavour}: seconds must be an integer")),
            )
        )
    label_text = pl.col(_FIELDS[len(FEATURES)])
    bad_label = ~label_text.is_in(list(LABEL_CODES))
    if label == "optional":
        bad_label = bad_label & label_text.is_not_null()
    rules.append((broken(bad_label), pl.lit(f"{LABEL}: must be one of {'/'.join(LABEL_CODES)}")))
    return rules


def _reasoned_path_columns(source: str) -> list[pl.Expr]:
    """The reasoned path's typed columns, from the split text."""
    label_text = pl.col(_FIELDS[len(FEATURES)])
    return [
        pl.col(_FIELDS[0]).cast(DATASET_SCHEMA[SEX], strict=False).alias(SEX),
        pl.col(_VALUES[1]).cast(DATASET_SCHEMA[AGE], strict=False).alias(AGE),
        *(
            pl.col(_VALUES[i]).cast(DATASET_SCHEMA[flavour], strict=False).alias(flavour)
            for i, flavour in enumerate(FLAVOURS, start=2)
        ),
        _label(label_text).alias(LABEL),
        pl.lit(source).alias(SOURCE),
        pl.col(LINE).cast(DATASET_SCHEMA[LINE]),
    ]


def _fast_path_columns(source: str) -> list[pl.Expr]:
    """The fast path's typed columns, from the rows its checks accepted."""
    return [
        pl.col(SEX).cast(SexDtype),
        pl.col(AGE).cast(DATASET_SCHEMA[AGE]),
        *(pl.col(flavour).cast(DATASET_SCHEMA[flavour]) for flavour in FLAVOURS),
        _label(pl.col(LABEL)).alias(LABEL),
        pl.lit(source).alias(SOURCE),
        pl.col(LINE).cast(DATASET_SCHEMA[LINE]),
    ]


def _label(text: pl.Expr) -> pl.Expr:
    # when/then, not replace_strict: the latter keeps the whole column in memory when streaming.
    label = pl.lit(None, dtype=pl.Boolean)
    for code, value in LABEL_CODES.items():
        label = pl.when(text == code).then(value).otherwise(label)
    return label
