"""Kept results of parsing and validating an export, by its content and the parameters
that shape them: a build reprocesses only new exports, and what a parameter change
touches, not the whole landing zone.

An entry is the parser's files (accepted rows, quarantine), its counts and the
validation report, exactly as a fresh run writes them, so a build from cached results
gives the same bytes as one from scratch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from juice import schema
from juice.data import parsing, validation
from juice.data.files import file_hash, link_or_copy
from juice.data.parsing import ParseResult
from juice.data.validation import ValidationReport
from juice.params import BuildDatasetParams

# The code that shapes the results: a change to it (a new rule, a new format) makes the
# cached results stale, as a parameter change does.
_SHAPING = (parsing, validation, schema)
_PARSED = "parsed.json"
_REPORT = "report.json"
_FILES = {"accepted_path": "accepted.parquet", "quarantine_path": "quarantine.csv"}


@functools.cache
def _code_hash() -> str:
    return hashlib.sha256(
        b"".join(Path(module.__file__ or "").read_bytes() for module in _SHAPING)
    ).hexdigest()


class ExportCache:
    """Parse and validation results cached in `root`, one folder per key."""

    def __init__(self, root: Path, params: BuildDatasetParams) -> None:
        self.root = root
        # Which exports a build holds shapes the dataset, not any one export's results.
        self.shape = params.model_dump_json(exclude={"recent_exports"})
        self.keys: dict[Path, str] = {}

    def key(self, export: Path) -> str:
        """The export's name and content with the code and the parameters that shape its
        results."""
        if export not in self.keys:
            parts = (_code_hash(), export.name, file_hash(export), self.shape)
            self.keys[export] = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return self.keys[export]

    def get(
        self, export: Path, accepted: Path, quarantine: Path
    ) -> tuple[ParseResult, ValidationReport] | None:
        """The cached results, their files linked to `accepted` and `quarantine`; None if
        the export was never processed with these parameters."""
        folder = self.root / self.key(export)
        if not folder.is_dir():
            return None
        for field, path in (("accepted_path", accepted), ("quarantine_path", quarantine)):
            path.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(folder / _FILES[field], path)
        counts = json.loads((folder / _PARSED).read_text())
        parsed = ParseResult(**counts, accepted_path=accepted, quarantine_path=quarantine)
        return parsed, ValidationReport.read(folder / _REPORT)

    def put(self, export: Path, parsed: ParseResult, report: ValidationReport) -> None:
        """Keeps the results (written whole, then renamed: a reader never sees a part)."""
        folder = self.root / self.key(export)
        if folder.is_dir():
            return
        partial = self.root / f".{folder.name}.{uuid.uuid4().hex}"
        partial.mkdir(parents=True)
        counts = asdict(parsed)
        for field, name in _FILES.items():
            link_or_copy(counts.pop(field), partial / name)
        (partial / _PARSED).write_text(json.dumps(counts))
        report.write(partial / _REPORT)
        try:
            partial.rename(folder)
        except OSError:  # cached meanwhile by another run
            shutil.rmtree(partial, ignore_errors=True)

    def prune(self) -> int:
        """Removes every entry this cache did not look up (exports no longer built, or
        cached under other parameters); how many it removed."""
        used = set(self.keys.values())
        stale = [path for path in self.root.glob("*") if path.name not in used]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)
