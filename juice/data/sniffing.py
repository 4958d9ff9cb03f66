"""What a file is, from its first bytes: empty, compressed, binary, or shaped like an export."""

from __future__ import annotations

import codecs

from juice.schema import RAW_COLUMNS

SAMPLE_BYTES = 64 << 10  # enough for hundreds of export lines

_COMPRESSIONS = {  # the magic numbers of the formats an export might arrive in
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
_WIDE_TEXT = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # also the start of UTF-32's marks


def compression(head: bytes) -> str | None:
    """The compression format a file starting with `head` is in, if any."""
    return next((name for magic, name in _COMPRESSIONS.items() if head.startswith(magic)), None)


def unreadable(head: bytes) -> str | None:
    """Why a file starting with `head` cannot be read as lines of UTF-8 text, or None."""
    if not head:
        return "the file is empty"
    if kind := compression(head):
        return f"{kind}-compressed data, not a CSV export"
    if head.startswith(_WIDE_TEXT):
        return "UTF-16 or UTF-32 text, not a UTF-8 CSV export"
    if b"\x00" in head:
        return "binary data (NUL bytes), not a CSV export"
    return None


def not_an_export(head: bytes) -> str | None:
    """Why a file starting with `head` is not an export, or None if it may be one: it must
    be text with some line of an export's fields (a header row counts)."""
    if reason := unreadable(head):
        return reason
    if not any(line.count(b",") == len(RAW_COLUMNS) - 1 for line in head.split(b"\n")):
        return f"not an export: no line of {len(RAW_COLUMNS)} comma-separated fields"
    return None
